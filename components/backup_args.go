package components

import (
	"net/url"
	"regexp"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Defaults of BackupArgs.
const (
	// DefaultBackupSchedule is daily at 02:00 UTC.
	DefaultBackupSchedule = "0 2 * * *"
	// DefaultBackupKeep is how many archives are kept, locally and in S3.
	DefaultBackupKeep = 7
	// DefaultBackupMetricsPort is the port, on the backup node's private
	// address, where the backup job serves its Prometheus metrics.
	DefaultBackupMetricsPort = 9639
	// DefaultBackupS3Region is the S3 signing region when none is given.
	DefaultBackupS3Region = "us-east-1"
)

// BackupArgs configures the scheduled backups: a long-running container on
// one node that runs `mongodump --archive --gzip --oplog` on the schedule,
// reading from a healthy secondary, into a retained volume, and uploads
// each archive to S3 when S3 is set. See docs/backups.md.
type BackupArgs struct {
	// Disabled turns the scheduled backups off (no backup user, container
	// or volume). Backups are on by default.
	Disabled bool `pulumi:"disabled,optional"`
	// Schedule is a five-field cron expression in UTC ("0 2 * * *", daily
	// at 02:00, by default); see CronSchedule for the exact syntax.
	Schedule string `pulumi:"schedule,optional"`
	// Keep is how many archives are kept, locally and in S3 (7 by
	// default). Older ones are deleted after a successful backup only.
	Keep int `pulumi:"keep,optional"`
	// Node names the node whose Docker host runs the backup job and keeps
	// the archive volume (the last node by default).
	Node string `pulumi:"node,optional"`
	// MetricsPort is the port on the backup node's private address where
	// the job serves its Prometheus metrics (9639 by default).
	MetricsPort int `pulumi:"metricsPort,optional"`
	// Image runs the job; it needs mongodump, mongosh and gzip. The
	// cluster's MongoImage (whose official images ship all three) when nil.
	Image pulumi.StringInput `pulumi:"image,optional"`
	// S3, when set, is an S3-compatible bucket every archive is uploaded
	// to after it is written.
	S3 *BackupS3 `pulumi:"s3,optional"`
}

// BackupS3 is an S3-compatible destination, reached path-style
// (ENDPOINT/BUCKET/KEY) with AWS Signature Version 4.
type BackupS3 struct {
	// Endpoint is the S3 API's base URL, for example
	// https://s3.eu-central-1.amazonaws.com or http://minio.internal:9000.
	Endpoint string `pulumi:"endpoint"`
	// Region is the signing region (us-east-1 by default).
	Region string `pulumi:"region,optional"`
	// Bucket is the bucket name.
	Bucket string `pulumi:"bucket"`
	// Prefix is prepended to every object name ("backups/" gives
	// backups/rs0-20260101T020000Z.archive.gz).
	Prefix string `pulumi:"prefix,optional"`
	// AccessKeyID is the access key ID of the credentials (secret).
	AccessKeyID pulumi.StringInput `pulumi:"accessKeyId" provider:"secret"`
	// SecretAccessKey is the secret access key of the credentials (secret).
	SecretAccessKey pulumi.StringInput `pulumi:"secretAccessKey" provider:"secret"`
}

// WithDefaults returns a copy of b with its defaults; nodes are the
// cluster's nodes (the last one keeps the archives).
func (b BackupArgs) WithDefaults(nodes []Node) BackupArgs {
	if b.Schedule == "" {
		b.Schedule = DefaultBackupSchedule
	}
	if b.Keep == 0 {
		b.Keep = DefaultBackupKeep
	}
	if b.Node == "" && len(nodes) > 0 {
		b.Node = nodes[len(nodes)-1].Name
	}
	if b.MetricsPort == 0 {
		b.MetricsPort = DefaultBackupMetricsPort
	}
	if b.S3 != nil {
		s3 := *b.S3
		if s3.Region == "" {
			s3.Region = DefaultBackupS3Region
		}
		b.S3 = &s3
	}
	return b
}

var (
	s3BucketName = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)
	s3Region     = regexp.MustCompile(`^[a-z0-9-]{1,32}$`)
	s3Prefix     = regexp.MustCompile(`^[A-Za-z0-9!_.*'()/-]*$`)
)

// validate checks the backup settings of a (with defaults) and reports each
// problem with bad, naming the field (Backup.Schedule, …).
func (b BackupArgs) validate(a RocketChatHAArgs, bad func(key, format string, args ...any)) {
	if b.Disabled {
		return
	}
	if _, err := ParseCron(b.Schedule); err != nil {
		bad("Backup.Schedule", "%v", err)
	}
	if b.Keep < 1 || b.Keep > 10000 {
		bad("Backup.Keep", "must be between 1 and 10000 archives, got %d", b.Keep)
	}
	var host *Node
	hostIndex := 0
	for i := range a.Nodes {
		if a.Nodes[i].Name == b.Node {
			host, hostIndex = &a.Nodes[i], i
		}
	}
	if host == nil && len(a.Nodes) > 0 {
		bad("Backup.Node", "%q is not the name of any entry in Nodes", b.Node)
	}
	if b.MetricsPort < 1 || b.MetricsPort > 65535 {
		bad("Backup.MetricsPort", "%d is not a TCP port (1-65535)", b.MetricsPort)
	} else if host != nil {
		for _, p := range []struct {
			key  string
			port int
		}{{"Ports.Mongo", host.Ports.Mongo}, {"Ports.RocketChat", host.Ports.RocketChat}, {"Ports.Instance", host.Ports.Instance}} {
			if p.port == b.MetricsPort {
				bad("Backup.MetricsPort", "%d is already used by Nodes[%d].%s (%s)", b.MetricsPort, hostIndex, p.key, host.Name)
			}
		}
		for _, lbNode := range a.LoadBalancer.Nodes {
			lb := a.LoadBalancer
			if lbNode == host.Name && (b.MetricsPort == lb.HTTPPort || (lb.Certificate != nil && b.MetricsPort == lb.HTTPSPort)) {
				bad("Backup.MetricsPort", "%d is already used by the load balancer on %s", b.MetricsPort, host.Name)
			}
		}
	}
	if s3 := b.S3; s3 != nil {
		u, err := url.Parse(s3.Endpoint)
		switch {
		case s3.Endpoint == "":
			bad("Backup.S3.Endpoint", "is required (the S3 API's URL, for example https://s3.eu-central-1.amazonaws.com)")
		case err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "":
			bad("Backup.S3.Endpoint", "%q is not an http(s) URL with a host", s3.Endpoint)
		case u.User != nil || u.RawQuery != "" || u.Fragment != "" || strings.Trim(u.Path, "/") != "":
			bad("Backup.S3.Endpoint", "%q must be the bare endpoint (no user, path, query or fragment); the bucket goes in Backup.S3.Bucket", s3.Endpoint)
		}
		if !s3BucketName.MatchString(s3.Bucket) || strings.Contains(s3.Bucket, "..") {
			bad("Backup.S3.Bucket", "%q is not an S3 bucket name (3-63 lower-case letters, digits, '.' and '-')", s3.Bucket)
		}
		if !s3Region.MatchString(s3.Region) {
			bad("Backup.S3.Region", "%q is not a region name such as eu-central-1", s3.Region)
		}
		if strings.HasPrefix(s3.Prefix, "/") || !s3Prefix.MatchString(s3.Prefix) || len(s3.Prefix) > 512 {
			bad("Backup.S3.Prefix", "%q must not start with '/' and may hold only letters, digits and !_.*'()/-", s3.Prefix)
		}
		if s3.AccessKeyID == nil {
			bad("Backup.S3.AccessKeyID", "is required with Backup.S3")
		}
		if s3.SecretAccessKey == nil {
			bad("Backup.S3.SecretAccessKey", "is required with Backup.S3")
		}
	}
}

// backupNode is the node that runs the backup job.
func (b *builder) backupNode() *node {
	for _, n := range b.nodes {
		if n.Name == b.args.Backup.Node {
			return n
		}
	}
	return nil
}
