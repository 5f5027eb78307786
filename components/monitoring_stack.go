package components

import (
	_ "embed"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/pulumi/pulumi-command/sdk/go/command/local"
	"github.com/pulumi/pulumi-docker/sdk/v4/go/docker"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/rocketchat-ha/rocketchat-ha/internal/monitoring"
)

// The monitoring stack on Monitoring.Node: Prometheus, Alertmanager and
// Grafana, each with a retained data volume and a config step that keeps
// its rendered files current in place.

// monitoringReload is the config step of the stack's containers
// (monitoring-reload.sh, after the docker prelude).
//
//go:embed monitoring-reload.sh
var monitoringReload string

// stackContainer is what differs between the stack's containers.
type stackContainer struct {
	role     string
	image    pulumi.StringInput
	files    []configFile // rendered config, kept current by the config step
	dataPath string       // where the retained data volume is mounted
	// internal and external are the service's port in the container and
	// on the node's address.
	internal, external int
	command            []string
	env                pulumi.StringArray
	// check runs in the container after new files are written; signal is
	// sent after it passes (empty: the service rereads them itself).
	check, signal string
	healthPath    string // HTTP path of the healthcheck
	// user, entrypoint and uploads, when set: the user the container
	// starts as, its entrypoint, and uploads beside the config files that
	// the config step does not rewrite (the entrypoint wrapper, secrets).
	user       string
	entrypoint []string
	uploads    docker.ContainerUploadArray
}

// configFile is one rendered file of a stack container.
type configFile struct {
	path    string
	content pulumi.StringInput
	mode    string
}

// newStackContainer registers one container of the stack on n with its
// data volume (retained like mongod's), its config files uploaded for its
// first start, and its config step, which writes later versions of the
// files into the running container, checks them with check and sends
// signal (empty: the service reads them on its own), so that a change of
// the node list replaces nothing. It returns the config step.
func (b *builder) newStackContainer(n *node, sc stackContainer) error {
	role, image, files := sc.role, sc.image, sc.files
	dataPath, internal, external, command, env := sc.dataPath, sc.internal, sc.external, sc.command, sc.env
	check, signal, healthPath := sc.check, sc.signal, sc.healthPath
	name := fmt.Sprintf("%s-%s", b.name, role)
	volArgs := &docker.VolumeArgs{
		Name: pulumi.String(name + "-data"),
		Labels: docker.VolumeLabelArray{
			docker.VolumeLabelArgs{Label: pulumi.String(LabelCluster), Value: pulumi.String(b.name)},
			docker.VolumeLabelArgs{Label: pulumi.String(LabelNode), Value: pulumi.String(n.Name)},
			docker.VolumeLabelArgs{Label: pulumi.String(LabelRole), Value: pulumi.String(role + "-data")},
		},
	}
	var vol *docker.Volume
	if n.down {
		b.record(n, name+"-data", volArgs, nil)
	} else {
		var err error
		vol, err = docker.NewVolume(b.ctx, name+"-data", volArgs, pulumi.Parent(b.comp), pulumi.Provider(n.provider),
			pulumi.RetainOnDelete(!b.args.DeleteDataOnDestroy))
		if err != nil {
			return fmt.Errorf("volume: %w", err)
		}
		b.record(n, name+"-data", volArgs, vol)
	}
	img, err := b.newImage(n, name+"-image", image, n.provider)
	if err != nil {
		return fmt.Errorf("image: %w", err)
	}
	var uploads docker.ContainerUploadArray
	env2 := pulumi.StringMap{stepEnvContainer: pulumi.String(name)}
	var lines []string
	for i, f := range files {
		uploads = append(uploads, docker.ContainerUploadArgs{File: pulumi.String(f.path), Content: f.content.ToStringOutput().ToStringPtrOutput(), Permissions: pulumi.String(f.mode)})
		v := fmt.Sprintf("RCHA_FILE_%d", i)
		lines = append(lines, v+" "+f.path+" "+f.mode)
		env2[v] = f.content
	}
	uploads = append(uploads, sc.uploads...)
	env2["RCHA_FILES"] = pulumi.String(strings.Join(lines, "\n"))
	if check != "" {
		env2["RCHA_CHECK"] = pulumi.String(check)
	}
	if signal != "" {
		env2["RCHA_SIGNAL"] = pulumi.String(signal)
	}
	args := &docker.ContainerArgs{
		Name:    pulumi.String(name),
		Image:   imageID(img),
		Envs:    env,
		Uploads: uploads,
		Volumes: docker.ContainerVolumeArray{docker.ContainerVolumeArgs{VolumeName: pulumi.String(name + "-data"), ContainerPath: pulumi.String(dataPath)}},
		// No hosts entries: the stack reaches every node by address, and a
		// change of the node list must not replace it.
		Ports:  publish(n.Address, map[int]int{internal: external}),
		Labels: labels(b.name, n.Name, role),
		// busybox wget is in the Prometheus, Alertmanager and Grafana
		// images.
		Healthcheck: b.healthcheck(health{
			Test:     []string{"CMD", "wget", "-q", "-T", "3", "-O", "/dev/null", fmt.Sprintf("http://127.0.0.1:%d%s", internal, healthPath)},
			Interval: 15 * time.Second, Timeout: 5 * time.Second, Retries: 4, StartPeriod: 60 * time.Second, StartInterval: 2 * time.Second,
		}),
	}
	if len(command) > 0 {
		args.Command = pulumi.ToStringArray(command)
	}
	if sc.user != "" {
		args.User = pulumi.String(sc.user)
	}
	if len(sc.entrypoint) > 0 {
		args.Entrypoints = pulumi.ToStringArray(sc.entrypoint)
	}
	hygiene(args, b.args.WaitSeconds)
	dockerCLIEnv(env2, n.DockerHost, n.DockerTLS)
	stepArgs := containerStep(monitoringReload, env2)
	if n.down {
		b.recordContainer(n, name, args, image, nil)
		b.record(n, name+"-config", stepArgs, nil)
		return nil
	}
	// The uploads give a new container its first config; later changes go
	// through the config step, in place.
	opts := append(containerOptions(n.provider, b.comp, []pulumi.Resource{vol}), pulumi.IgnoreChanges([]string{"uploads"}))
	c, err := docker.NewContainer(b.ctx, name, args, opts...)
	if err != nil {
		return fmt.Errorf("container: %w", err)
	}
	b.recordContainer(n, name, args, image, c)
	fp := *stepArgs
	stepArgs.Triggers = pulumi.Array{c.ID()}
	step, err := local.NewCommand(b.ctx, name+"-config", stepArgs, pulumi.Parent(b.comp), pulumi.DependsOn([]pulumi.Resource{c}))
	if err != nil {
		return fmt.Errorf("config step: %w", err)
	}
	b.record(n, name+"-config", &fp, step)
	return nil
}

// newPrometheus registers Prometheus on n: the rendered scrape config and
// rules, reloaded with SIGHUP after `promtool check config`.
func (b *builder) newPrometheus(n *node, cfg monitoring.Config, image pulumi.StringInput) error {
	prom, err := monitoring.RenderPrometheus(cfg)
	if err != nil {
		return err
	}
	rules, err := monitoring.RenderRules(cfg)
	if err != nil {
		return err
	}
	conf := monitoringDir + "/prometheus.yml"
	return b.newStackContainer(n, stackContainer{
		role: "prometheus", image: image,
		files: []configFile{
			{conf, pulumi.String(prom), publicFileMode},
			{monitoringDir + "/" + monitoring.RulesFile, pulumi.String(rules), publicFileMode},
		},
		dataPath: "/prometheus", internal: prometheusPort, external: b.args.Monitoring.Ports.Prometheus,
		command: []string{
			"--config.file=" + conf,
			"--storage.tsdb.path=/prometheus",
			"--storage.tsdb.retention.time=" + b.args.Monitoring.Retention,
			"--web.listen-address=:" + strconv.Itoa(prometheusPort),
			"--web.enable-lifecycle",
		},
		check: "promtool check config " + strings.TrimPrefix(conf, "/"), signal: "HUP", healthPath: "/-/healthy",
	})
}

// newAlertmanager registers Alertmanager on n with Monitoring.Alertmanager
// (a secret), reloaded with SIGHUP after `amtool check-config`.
func (b *builder) newAlertmanager(n *node, image pulumi.StringInput) error {
	text, err := monitoring.RenderAlertmanager(b.args.Monitoring.Alertmanager)
	if err != nil {
		return err
	}
	conf := monitoringDir + "/alertmanager.yml"
	// The config holds the receivers' secrets: root-only (0400), so
	// Alertmanager runs as root in its container (the image's user is
	// nobody, and its busybox has no way to hand it the file otherwise).
	return b.newStackContainer(n, stackContainer{
		role: "alertmanager", image: image,
		files:    []configFile{{conf, secret(pulumi.String(text)), secretFileMode}},
		dataPath: "/alertmanager", internal: alertmanagerPort, external: b.args.Monitoring.Ports.Alertmanager,
		command: []string{
			"--config.file=" + conf,
			"--storage.path=/alertmanager",
			"--web.listen-address=:" + strconv.Itoa(alertmanagerPort),
			"--cluster.listen-address=",
		},
		check: "amtool check-config " + strings.TrimPrefix(conf, "/"), signal: "HUP", healthPath: "/-/healthy",
		user: "root",
	})
}

// grafanaUser is the grafana/grafana image's user (uid 472).
const grafanaUser = "grafana"

// grafanaCommand is the grafana/grafana image's entrypoint, which the
// wrapper execs.
var grafanaCommand = []string{"/run.sh"}

// newGrafana registers Grafana on n: the datasource (this Prometheus), the
// dashboard provider and the dashboards, which Grafana rereads every 30
// seconds, so the config step sends no signal. The admin password is not in
// the container's environment: the Rocket.Chat entrypoint wrapper exports
// GF_SECURITY_ADMIN_PASSWORD from an uploaded root-only file and drops to
// the image's user (Grafana reads it when it creates its database).
func (b *builder) newGrafana(n *node, image pulumi.StringInput) error {
	dashboards, err := monitoring.RenderDashboards()
	if err != nil {
		return err
	}
	promURL := "http://" + net.JoinHostPort(n.Address, strconv.Itoa(b.args.Monitoring.Ports.Prometheus))
	files := []configFile{
		{monitoring.GrafanaDatasourcesFile, pulumi.String(monitoring.RenderGrafanaDatasource(promURL)), publicFileMode},
		{monitoring.GrafanaProvidersFile, pulumi.String(monitoring.RenderGrafanaProviders()), publicFileMode},
	}
	for _, f := range monitoring.DashboardFiles(dashboards) {
		files = append(files, configFile{monitoring.GrafanaDashboardsDir + "/" + f, pulumi.String(dashboards[f]), publicFileMode})
	}
	env := pulumi.StringArray{
		pulumi.String("GF_USERS_ALLOW_SIGN_UP=false"),
		pulumi.String("GF_ANALYTICS_REPORTING_ENABLED=false"),
		pulumi.String("GF_ANALYTICS_CHECK_FOR_UPDATES=false"),
	}
	secrets := secret(b.mon.grafanaPassword.ApplyT(func(pw string) string {
		return envFile([][2]string{{"GF_SECURITY_ADMIN_PASSWORD", pw}})
	}).(pulumi.StringOutput))
	return b.newStackContainer(n, stackContainer{
		role: "grafana", image: image, files: files,
		dataPath: "/var/lib/grafana", internal: grafanaPort, external: b.args.Monitoring.Ports.Grafana,
		command: grafanaCommand, env: env, healthPath: "/api/health",
		user:       "root",
		entrypoint: []string{"/bin/sh", rocketChatEntrypointPath, grafanaUser, rocketChatSecretsUpload, rocketChatSecretsCopy},
		uploads: docker.ContainerUploadArray{
			docker.ContainerUploadArgs{File: pulumi.String(rocketChatEntrypointPath), Content: pulumi.String(rocketChatEntrypoint), Permissions: pulumi.String(scriptFileMode)},
			docker.ContainerUploadArgs{File: pulumi.String(rocketChatSecretsUpload), Content: secrets.ToStringPtrOutput(), Permissions: pulumi.String(secretFileMode)},
		},
	})
}
