package providers

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"syscall"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// Trace operation names written by the fakes. Engine RPCs use their RPC
// name in lower case; simulated runtime events use the names below.
const (
	OpCheckConfig = "checkConfig"
	OpConfigure   = "configure"
	OpDiff        = "diff"
	OpCreate      = "create"
	OpRead        = "read"
	OpUpdate      = "update"
	OpDelete      = "delete"
	// OpHealthy is recorded when a container created with wait=true has
	// passed its (simulated) healthcheck, just before Create returns.
	OpHealthy = "healthy"
	// OpStarted is recorded for containers created with wait=false: they
	// run, but nobody waited for them to be healthy.
	OpStarted = "started"
	// OpDown is recorded when a container stops because it is deleted.
	OpDown = "down"
	// OpRun is recorded when the command fake "runs" a command (create,
	// update or delete text); Members then lists the desired replica-set
	// members it carried.
	OpRun = "run"
)

// SecretMarker replaces every secret value in the trace.
const SecretMarker = "[secret]"

// UnknownMarker replaces every unknown (computed) value in the trace.
const UnknownMarker = "[unknown]"

// Event is one line of the trace file.
type Event struct {
	Time     string `json:"time"`
	Op       string `json:"op"`
	Provider string `json:"provider"`
	Pid      int    `json:"pid"`
	URN      string `json:"urn,omitempty"`
	Type     string `json:"type,omitempty"`
	ID       string `json:"id,omitempty"`
	// Name is the Docker object name (container, volume, image) when known.
	Name string `json:"name,omitempty"`
	// Host is the docker host the object lives on.
	Host    string `json:"host,omitempty"`
	Preview bool   `json:"preview,omitempty"`
	// Inputs are the operation's inputs with secrets replaced by SecretMarker.
	Inputs map[string]any `json:"inputs,omitempty"`
	// SecretKeys lists the top-level input keys that carried a secret.
	SecretKeys []string `json:"secretKeys,omitempty"`
	// Changes and Replaces are the diff's changed and replacing keys.
	Changes             []string `json:"changes,omitempty"`
	Replaces            []string `json:"replaces,omitempty"`
	DeleteBeforeReplace bool     `json:"deleteBeforeReplace,omitempty"`
	// EnvKeys lists a command's environment variable names (never values).
	EnvKeys []string `json:"envKeys,omitempty"`
	// Members lists the replica-set member hosts a command run carried in
	// RCHA_DESIRED (host names only; the document itself holds passwords).
	Members []string `json:"members,omitempty"`
	// Command is which command text ran: "create", "update" or "delete".
	Command string `json:"command,omitempty"`
	// Mode is a replica-set step's RCHA_MODE (full, prune or force), and
	// Through the node the modelled step ran through ("" when it had
	// nothing to do or refused; then Error says why).
	Mode    string `json:"mode,omitempty"`
	Through string `json:"through,omitempty"`
	// HostsEntries are the "address name" lines a hosts step (its
	// environment has RCHA_HOSTS and RCHA_CONTAINER) carried in RCHA_HOSTS;
	// its run event names the container (Name) and its docker host (Host).
	HostsEntries []string `json:"hostsEntries,omitempty"`
	// PreviousStdout reports whether a command update had the previous
	// run's stdout to pass on as PULUMI_COMMAND_STDOUT.
	PreviousStdout bool `json:"previousStdout,omitempty"`
	// Reused is true when a volume create found the volume already there
	// (a retained data volume being adopted again).
	Reused bool `json:"reused,omitempty"`
	// Gone is true when a read found the object gone from the docker host
	// (or found a stopped mustRun container and removed it): the
	// resource leaves the state.
	Gone  bool   `json:"gone,omitempty"`
	Error string `json:"error,omitempty"`
}

// tracer appends events to the file named by RCHA_LAB_TRACE.
type tracer struct {
	path     string
	provider string
}

func newTracer(provider string) *tracer {
	return &tracer{path: os.Getenv("RCHA_LAB_TRACE"), provider: provider}
}

// record appends e as one JSON line under an exclusive file lock, so that
// lines written by concurrent provider processes never interleave and the
// file order is the order in which the events happened.
func (t *tracer) record(e Event) {
	if t == nil || t.path == "" {
		return
	}
	e.Time = time.Now().UTC().Format(time.RFC3339Nano)
	e.Provider = t.provider
	e.Pid = os.Getpid()
	line, err := json.Marshal(e)
	if err != nil {
		fmt.Fprintf(os.Stderr, "lab trace: encode %s %s: %v\n", e.Op, e.URN, err)
		return
	}
	f, err := os.OpenFile(t.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		fmt.Fprintf(os.Stderr, "lab trace: open %s: %v\n", t.path, err)
		return
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		fmt.Fprintf(os.Stderr, "lab trace: lock %s: %v\n", t.path, err)
		return
	}
	defer func() { _ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN) }()
	if _, err := f.Write(append(line, '\n')); err != nil {
		fmt.Fprintf(os.Stderr, "lab trace: write %s: %v\n", t.path, err)
	}
}

// ReadTrace parses a trace file written by the fakes, in file order.
func ReadTrace(path string) ([]Event, error) {
	f, err := os.Open(path)
	if err != nil {
		if os.IsNotExist(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("read trace %s: %w", path, err)
	}
	defer f.Close()
	var events []Event
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 1<<20), 64<<20)
	for n := 1; sc.Scan(); n++ {
		var e Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			return nil, fmt.Errorf("trace %s line %d: %w", path, n, err)
		}
		events = append(events, e)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read trace %s: %w", path, err)
	}
	return events, nil
}

// redactMap renders a property map for the trace: secrets become
// SecretMarker, unknowns UnknownMarker, assets and archives a short tag.
// It also returns the sorted top-level keys that carried a secret.
func redactMap(m resource.PropertyMap) (map[string]any, []string) {
	if m == nil {
		return nil, nil
	}
	out := make(map[string]any, len(m))
	var secretKeys []string
	for k, v := range m {
		if internalKey(k) {
			continue
		}
		out[string(k)] = redact(v)
		if v.ContainsSecrets() {
			secretKeys = append(secretKeys, string(k))
		}
	}
	sort.Strings(secretKeys)
	return out, secretKeys
}

func redact(v resource.PropertyValue) any {
	switch {
	case v.IsSecret():
		return SecretMarker
	case v.IsComputed():
		return UnknownMarker
	case v.IsOutput():
		o := v.OutputValue()
		if o.Secret {
			return SecretMarker
		}
		if !o.Known {
			return UnknownMarker
		}
		return redact(o.Element)
	case v.IsNull():
		return nil
	case v.IsBool():
		return v.BoolValue()
	case v.IsNumber():
		return v.NumberValue()
	case v.IsString():
		return v.StringValue()
	case v.IsArray():
		arr := v.ArrayValue()
		out := make([]any, len(arr))
		for i, e := range arr {
			out[i] = redact(e)
		}
		return out
	case v.IsObject():
		m, _ := redactMap(v.ObjectValue())
		return m
	case v.IsAsset():
		return "[asset]"
	case v.IsArchive():
		return "[archive]"
	case v.IsResourceReference():
		return "[resource " + string(v.ResourceReferenceValue().URN) + "]"
	default:
		return "[" + v.TypeString() + "]"
	}
}

// internalKey reports keys such as __defaults and __meta that the engine
// or bridge keep for themselves.
func internalKey(k resource.PropertyKey) bool { return resource.IsInternalPropertyKey(k) }
