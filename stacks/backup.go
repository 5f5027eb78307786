package stacks

import (
	"fmt"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/rocketchat-ha/rocketchat-ha/components"
)

// BackupConfig is `backup`: the scheduled backups (components.BackupArgs).
// s3.accessKeyId and s3.secretAccessKey are secrets: set them with
// `pulumi config set --secret --path backup.s3.secretAccessKey ...`.
type BackupConfig struct {
	Disabled    bool            `json:"disabled,omitempty"`
	Schedule    string          `json:"schedule,omitempty"`
	Keep        int             `json:"keep,omitempty"`
	Node        string          `json:"node,omitempty"`
	MetricsPort int             `json:"metricsPort,omitempty"`
	Image       string          `json:"image,omitempty"`
	S3          *BackupS3Config `json:"s3,omitempty"`
}

// BackupS3Config is `backup.s3`.
type BackupS3Config struct {
	Endpoint        string `json:"endpoint"`
	Region          string `json:"region,omitempty"`
	Bucket          string `json:"bucket"`
	Prefix          string `json:"prefix,omitempty"`
	AccessKeyID     string `json:"accessKeyId"`
	SecretAccessKey string `json:"secretAccessKey"`
}

// args maps `backup` onto the component's BackupArgs.
func (b BackupConfig) args(secretOrNil, plainOrNil func(string) pulumi.StringInput) components.BackupArgs {
	out := components.BackupArgs{
		Disabled: b.Disabled, Schedule: b.Schedule, Keep: b.Keep, Node: b.Node, MetricsPort: b.MetricsPort,
		Image: plainOrNil(b.Image),
	}
	if s := b.S3; s != nil {
		out.S3 = &components.BackupS3{
			Endpoint: s.Endpoint, Region: s.Region, Bucket: s.Bucket, Prefix: s.Prefix,
			AccessKeyID: secretOrNil(s.AccessKeyID), SecretAccessKey: secretOrNil(s.SecretAccessKey),
		}
	}
	return out
}

// checkSecrets refuses S3 credentials stored in plain text.
func (b BackupConfig) checkSecrets(isSecret func(key string) bool) []error {
	if b.S3 == nil || isSecret(Namespace+":backup") {
		return nil
	}
	var errs []error
	for _, f := range []struct {
		key string
		set bool
	}{{"accessKeyId", b.S3.AccessKeyID != ""}, {"secretAccessKey", b.S3.SecretAccessKey != ""}} {
		if f.set {
			errs = append(errs, fmt.Errorf("backup.s3.%s: is a secret; set it with `pulumi config set --secret --path backup.s3.%s ...`", f.key, f.key))
		}
	}
	return errs
}
