package cli

import (
	"bytes"
	"encoding/json"
	"io"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"sync"
)

// MinSecretLen is the length below which a known secret value is not
// redacted as a substring: replacing every "abc" or "1" in the output would
// mangle it and hide nothing worth hiding. Such short values are still
// redacted where they appear as a mongodb:// URL password.
const MinSecretLen = 4

// maxLineBuffer bounds what a RedactWriter holds while waiting for a
// newline. A longer line is redacted and written in pieces; a secret split
// across two pieces of one such line can escape the substring match.
const maxLineBuffer = 1 << 20

// mongoPassword matches the password in the userinfo of a mongodb:// or
// mongodb+srv:// URL: scheme and user in group 1, the password in group 2.
// Inside JSON text a character of the password may be a \uXXXX escape (Go
// writes & that way); other quotes and backslashes end the match.
var mongoPassword = regexp.MustCompile(`(?i)(mongodb(?:\+srv)?://[^:@/\s"'\\]*:)((?:[^@/\s"'\\]|\\u[0-9a-fA-F]{4})+)@`)

// Redactor replaces every secret value it has been told about, and the
// password of every mongodb:// URL, with Redacted. It also replaces the
// forms a secret takes inside a URL (query, path and userinfo escaping) and
// inside JSON text (a string's escaping, with and without HTML escaping,
// one and two levels deep). Longer values are replaced first, so a secret
// that contains another is replaced whole. A Redactor is safe for
// concurrent use; the zero value is not: use NewRedactor.
type Redactor struct {
	mu       sync.RWMutex
	values   map[string]bool // every form of every known secret
	replacer *strings.Replacer
}

// NewRedactor returns a Redactor that knows no secret values yet; it
// redacts mongodb:// URL passwords from the start.
func NewRedactor() *Redactor {
	return &Redactor{values: map[string]bool{}}
}

// Add registers secret values. Values shorter than MinSecretLen are ignored
// as substrings (see MinSecretLen).
func (r *Redactor) Add(secrets ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	changed := false
	for _, s := range secrets {
		if len(s) < MinSecretLen {
			continue
		}
		for _, form := range secretForms(s) {
			if len(form) >= MinSecretLen && !r.values[form] {
				r.values[form] = true
				changed = true
			}
		}
	}
	if !changed {
		return
	}
	forms := make([]string, 0, len(r.values))
	for f := range r.values {
		forms = append(forms, f)
	}
	// strings.Replacer tries the old strings in argument order at each
	// position: longest first makes the longest secret win.
	sort.Slice(forms, func(i, j int) bool {
		if len(forms[i]) != len(forms[j]) {
			return len(forms[i]) > len(forms[j])
		}
		return forms[i] < forms[j]
	})
	pairs := make([]string, 0, 2*len(forms))
	for _, f := range forms {
		pairs = append(pairs, f, Redacted)
	}
	r.replacer = strings.NewReplacer(pairs...)
}

// Len is the number of secret forms the Redactor replaces.
func (r *Redactor) Len() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.values)
}

// String returns s with every known secret and every mongodb:// URL
// password replaced by Redacted.
func (r *Redactor) String(s string) string {
	r.mu.RLock()
	rep := r.replacer
	r.mu.RUnlock()
	if rep != nil {
		s = rep.Replace(s)
	}
	return mongoPassword.ReplaceAllString(s, "${1}"+Redacted+"@")
}

// Value returns v (a JSON-like value: maps, slices, strings, numbers) with
// every string in it, map keys included, passed through String.
func (r *Redactor) Value(v any) any {
	switch x := v.(type) {
	case string:
		return r.String(x)
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[r.String(k)] = r.Value(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = r.Value(e)
		}
		return out
	default:
		return v
	}
}

// secretForms lists s and the escaped forms it takes in URLs and JSON text.
func secretForms(s string) []string {
	seen := map[string]bool{}
	var out []string
	add := func(f string) {
		if !seen[f] {
			seen[f] = true
			out = append(out, f)
		}
	}
	add(s)
	add(url.QueryEscape(s))
	add(url.PathEscape(s))
	add(strings.TrimPrefix(url.UserPassword("", s).String(), ":"))
	add(url.User(s).String())
	// JSON string escaping, one and two levels deep (a JSON dump inside a
	// JSON string), of the value and of its URL forms.
	for level := 0; level < 2; level++ {
		for _, f := range append([]string(nil), out...) {
			add(jsonEscape(f, true))
			add(jsonEscape(f, false))
		}
	}
	return out
}

// jsonEscape returns s as it appears between the quotes of a JSON string.
func jsonEscape(s string, html bool) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(html)
	if err := enc.Encode(s); err != nil {
		return s
	}
	out := strings.TrimSuffix(b.String(), "\n")
	return out[1 : len(out)-1]
}

// RedactWriter passes what is written to it on to another writer with
// secrets redacted, line by line: it holds back an incomplete line until its
// newline arrives (or Flush is called), so a secret split across two writes
// is still found.
type RedactWriter struct {
	mu  sync.Mutex
	w   io.Writer
	r   *Redactor
	buf []byte
}

// NewRedactWriter returns a RedactWriter writing to w through r.
func NewRedactWriter(w io.Writer, r *Redactor) *RedactWriter {
	return &RedactWriter{w: w, r: r}
}

// Write buffers p and writes every complete line, redacted. It reports
// len(p) written unless the underlying writer fails.
func (rw *RedactWriter) Write(p []byte) (int, error) {
	rw.mu.Lock()
	defer rw.mu.Unlock()
	rw.buf = append(rw.buf, p...)
	end := bytes.LastIndexByte(rw.buf, '\n') + 1
	if end == 0 && len(rw.buf) > maxLineBuffer {
		end = len(rw.buf)
	}
	if end == 0 {
		return len(p), nil
	}
	out := rw.r.String(string(rw.buf[:end]))
	rw.buf = append(rw.buf[:0], rw.buf[end:]...)
	if _, err := io.WriteString(rw.w, out); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Flush writes what is buffered, redacted, even without a final newline.
func (rw *RedactWriter) Flush() error {
	rw.mu.Lock()
	defer rw.mu.Unlock()
	if len(rw.buf) == 0 {
		return nil
	}
	out := rw.r.String(string(rw.buf))
	rw.buf = rw.buf[:0]
	_, err := io.WriteString(rw.w, out)
	return err
}
