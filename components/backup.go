package components

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/pulumi/pulumi-docker/sdk/v4/go/docker"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/rocketchat-ha/rocketchat-ha/internal/monitoring"
	"github.com/rocketchat-ha/rocketchat-ha/internal/replicaset"
)

// BackupUser is the database user of the backup job, with MongoDB's
// built-in backup role on admin and nothing else. Restores run as root,
// with the root password given for that one run (see docs/backups.md).
const BackupUser = "backup"

// Paths and names inside the backup container.
const (
	// BackupLibDir holds the job's scripts and its private config files.
	BackupLibDir = "/etc/rocketchat-ha/backup"
	// BackupDir is where the archive volume is mounted.
	BackupDir = "/backups"
	// BackupRunScript is the job's command script (backup, list, restore).
	BackupRunScript = BackupLibDir + "/backup-run.sh"
	// backupConfigFile is mongodump's --config file (the backup user's
	// password), mode 0400.
	backupConfigFile = BackupLibDir + "/mongodump.yaml"
	// backupS3File holds the S3 settings and credentials, mode 0400.
	backupS3File = BackupLibDir + "/s3.json"
	// backupHeartbeat is the file the scheduler touches every minute.
	backupHeartbeat = "/tmp/rocketchat-ha-backup-alive"
)

// The job's files, installed in the container (see each file).
var (
	//go:embed backup-run.sh
	backupRunScript string
	//go:embed backup-scheduler.sh
	backupSchedulerScript string
	//go:embed backup-cron.sh
	backupCronScript string
	//go:embed backup-metrics.js
	backupMetricsJS string
	//go:embed backup-s3.js
	backupS3JS string
)

// BackupContainerName is the name of the backup container of cluster
// name on the Docker host dockerHost: its Docker name and its resource
// name. It is named after the host, not the node: when backup.node moves
// to another host (or its node is retired), the job is created on the new
// host and the old one deleted; when it moves between nodes that share a
// Docker host (the dev stack), the same resource is replaced in place,
// deleted before its successor starts, so that the metrics port and the
// volume are free for it.
func BackupContainerName(cluster, dockerHost string) string {
	return cluster + "-backup-" + HostKey(dockerHost)
}

// BackupVolumeName is the name of the archive volume of cluster name on
// dockerHost. A volume that is no longer used is retained on its host
// (unless deleteDataOnDestroy) with its archives; on the same host the
// next job finds it again under the same name.
func BackupVolumeName(cluster, dockerHost string) string {
	return cluster + "-backups-" + HostKey(dockerHost)
}

// HostKey spells a Docker endpoint as a name part: ssh://root@10.0.0.3
// gives 10.0.0.3, tcp://h:2376 h-2376, unix:///var/run/docker.sock
// var-run-docker.sock.
func HostKey(dockerHost string) string {
	s := dockerHost
	if u, err := url.Parse(dockerHost); err == nil {
		if u.Scheme == "unix" {
			s = u.Path
		} else {
			s = u.Host + u.Path
		}
	}
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '.', r == '_':
			b.WriteRune(r)
		default:
			b.WriteRune('-')
		}
	}
	return strings.Trim(b.String(), "-._")
}

// backupHealth is the backup container's healthcheck: the scheduler has
// written its heartbeat within the last three minutes.
var backupHealth = []string{"CMD", "sh", "-c", `test $(( $(date -u +%s) - $(cat ` + backupHeartbeat + `) )) -lt 180`}

// backup prepares the scheduled backups when they are on: the backup user
// (in the full replica-set step's users, so it must run before the
// cluster step) and its generated password; the cluster step then calls
// backupJob with the full replica-set step, to register on the backup node
// the archive volume (retained like mongod's data), the image and the
// long-running job container.
func (b *builder) backup() error {
	bk := b.args.Backup
	if bk.Disabled {
		return nil
	}
	sched, err := ParseCron(bk.Schedule) // validated already
	if err != nil {
		return fmt.Errorf("Backup.Schedule: %w", err)
	}
	password, err := b.generatePassword("backup-password", 32)
	if err != nil {
		return err
	}
	b.addDBUser(BackupUser, "admin", password, replicaset.Role{Role: "backup", DB: "admin"})
	b.backupJob = func(after pulumi.Resource) error { return b.newBackupJob(sched, password, after) }
	// With monitoring, Prometheus scrapes the job's metrics and alerts
	// when the last success is older than 1.5 times the schedule's longest
	// gap, when the last run failed, and when the job does not answer.
	if n := b.backupNode(); n != nil {
		bm := monitoring.Backup{Node: n.Name, Address: net.JoinHostPort(n.Address, strconv.Itoa(bk.MetricsPort)), MaxAge: BackupAlertAge(sched)}
		b.addMonitoring([]monitoring.ScrapeJob{bm.Job()}, bm.Rules(monitoring.Timing{}))
	}
	return nil
}

// newBackupJob registers the backup node's archive volume, image and job
// container, after the full replica-set step (after): like every other
// change they wait for the prune step's checks (every host answers, the
// upgrade path), and the job starts once its user exists.
func (b *builder) newBackupJob(sched CronSchedule, password pulumi.StringOutput, after pulumi.Resource) error {
	bk := b.args.Backup
	n := b.backupNode()
	if n == nil {
		return fmt.Errorf("Backup.Node: %q is not a node", bk.Node)
	}
	var err error
	wait := pulumi.DependsOn([]pulumi.Resource{after})
	volName := BackupVolumeName(b.name, n.DockerHost)
	volArgs := &docker.VolumeArgs{
		Name: pulumi.String(volName),
		Labels: docker.VolumeLabelArray{
			docker.VolumeLabelArgs{Label: pulumi.String(LabelCluster), Value: pulumi.String(b.name)},
			docker.VolumeLabelArgs{Label: pulumi.String(LabelNode), Value: pulumi.String(n.Name)},
			docker.VolumeLabelArgs{Label: pulumi.String(LabelRole), Value: pulumi.String("backup-archives")},
		},
	}
	var vol *docker.Volume
	if n.down {
		b.record(n, volName, volArgs, nil)
	} else {
		// Replaced (a move between nodes of one Docker host): forgotten
		// first, then found again under the same name.
		vol, err = docker.NewVolume(b.ctx, volName, volArgs, pulumi.Parent(b.comp), pulumi.Provider(n.provider),
			pulumi.RetainOnDelete(!b.args.DeleteDataOnDestroy), pulumi.DeleteBeforeReplace(true), wait)
		if err != nil {
			return fmt.Errorf("%s: backup volume: %w", n, err)
		}
		b.record(n, volName, volArgs, vol)
	}

	imageRef := b.mongoImage
	if bk.Image != nil {
		imageRef = bk.Image
	}
	name := BackupContainerName(b.name, n.DockerHost)
	img, err := b.newImage(n, name+"-image", imageRef, n.provider, wait)
	if err != nil {
		return fmt.Errorf("%s: backup image: %w", n, err)
	}
	args := b.backupContainerArgs(n, sched, password, imageID(img))
	if n.down {
		b.recordContainer(n, name, args, imageRef, nil)
		return nil
	}
	c, err := docker.NewContainer(b.ctx, name, args, containerOptions(n.provider, b.comp, []pulumi.Resource{vol, img, after})...)
	if err != nil {
		return fmt.Errorf("%s: backup container: %w", n, err)
	}
	b.recordContainer(n, name, args, imageRef, c)
	return nil
}

// backupContainerArgs is the backup container on node n.
func (b *builder) backupContainerArgs(n *node, sched CronSchedule, password pulumi.StringOutput, image pulumi.StringInput) *docker.ContainerArgs {
	bk := b.args.Backup
	env := map[string]string{
		"RCHA_BACKUP_SCHEDULE":         sched.Expr,
		"RCHA_BACKUP_INTERVAL_SECONDS": strconv.FormatInt(int64(sched.LongestGap()/time.Second), 10),
		"RCHA_BACKUP_KEEP":             strconv.Itoa(bk.Keep),
		"RCHA_BACKUP_RS":               b.args.ReplicaSetName,
		"RCHA_BACKUP_HOSTS":            strings.Join(memberHosts(b.args.Nodes), ","),
		"RCHA_BACKUP_USER":             BackupUser,
		"RCHA_BACKUP_CONFIG":           backupConfigFile,
		"RCHA_BACKUP_DIR":              BackupDir,
		"RCHA_BACKUP_LIB":              BackupLibDir,
		"RCHA_BACKUP_HEARTBEAT":        backupHeartbeat,
		"RCHA_BACKUP_METRICS_PORT":     strconv.Itoa(bk.MetricsPort),
	}
	if bk.S3 != nil {
		env["RCHA_BACKUP_S3_CONFIG"] = backupS3File
	}
	var envs pulumi.StringArray
	for _, k := range sortedKeys(env) {
		envs = append(envs, pulumi.String(k+"="+env[k]))
	}
	// The password is letters and digits (pulumi-random, no specials), but
	// a YAML double-quoted scalar keeps any value exact.
	dumpConfig := password.ApplyT(func(p string) string {
		q, _ := json.Marshal(p)
		return "password: " + string(q) + "\n"
	}).(pulumi.StringOutput)
	script := func(file, text string) docker.ContainerUploadArgs {
		return docker.ContainerUploadArgs{File: pulumi.String(BackupLibDir + "/" + file), Content: pulumi.String(text), Permissions: pulumi.String(scriptFileMode)}
	}
	uploads := docker.ContainerUploadArray{
		script("backup-run.sh", backupRunScript),
		script("backup-scheduler.sh", backupSchedulerScript),
		script("backup-cron.sh", backupCronScript),
		script("backup-metrics.js", backupMetricsJS),
		script("backup-s3.js", backupS3JS),
		docker.ContainerUploadArgs{File: pulumi.String(backupConfigFile), Content: secret(dumpConfig).ToStringPtrOutput(), Permissions: pulumi.String(secretFileMode)},
	}
	if s3 := bk.S3; s3 != nil {
		doc := pulumi.All(s3.AccessKeyID, s3.SecretAccessKey).ApplyT(func(v []any) (string, error) {
			js, err := json.Marshal(map[string]string{
				"endpoint": strings.TrimRight(s3.Endpoint, "/"), "region": s3.Region, "bucket": s3.Bucket, "prefix": s3.Prefix,
				"accessKeyId": v[0].(string), "secretAccessKey": v[1].(string),
			})
			return string(js), err
		}).(pulumi.StringOutput)
		uploads = append(uploads, docker.ContainerUploadArgs{File: pulumi.String(backupS3File), Content: secret(doc).ToStringPtrOutput(), Permissions: pulumi.String(secretFileMode)})
	}
	args := &docker.ContainerArgs{
		Name:        pulumi.String(BackupContainerName(b.name, n.DockerHost)),
		Image:       image,
		Entrypoints: pulumi.StringArray{pulumi.String("/bin/sh"), pulumi.String(BackupLibDir + "/backup-scheduler.sh")},
		Envs:        envs,
		Uploads:     uploads,
		Volumes: docker.ContainerVolumeArray{docker.ContainerVolumeArgs{
			VolumeName:    pulumi.String(BackupVolumeName(b.name, n.DockerHost)),
			ContainerPath: pulumi.String(BackupDir),
		}},
		Ports:  publish(n.Address, map[int]int{bk.MetricsPort: bk.MetricsPort}),
		Hosts:  hostEntries(b.args.Nodes),
		Labels: labels(b.name, n.Name, "backup"),
		Healthcheck: b.healthcheck(health{
			Test:     backupHealth,
			Interval: 30 * time.Second, Timeout: 5 * time.Second, Retries: 3,
			StartPeriod: 10 * time.Second, StartInterval: 2 * time.Second,
		}),
		// A backup cut short deletes its partial archive on the way out.
		DestroyGraceSeconds: pulumi.Int(30),
	}
	hygiene(args, b.args.WaitSeconds)
	return args
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// RocketChatContainerName is the name of the Rocket.Chat container of
// node on cluster name (what `rcha restore` stops and starts).
func RocketChatContainerName(cluster, node string) string { return cluster + "-rocketchat-" + node }

// RootPasswordResourceName is the name of the pulumi-random resource that
// holds the generated root password of cluster name.
func RootPasswordResourceName(cluster string) string { return cluster + "-mongo-root-password" }
