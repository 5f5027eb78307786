// The backup job's metrics server, run under mongosh (a Node.js runtime)
// in the backup container: GET /metrics answers the Prometheus text file
// that backup-run.sh writes after every run (RCHA_METRICS_FILE), plus the
// schedule's longest gap between runs, so that an alert can compare the
// age of the last success with 1.5 x that interval. Before the first run it
// answers no success yet, and since when the job has waited (RCHA_SINCE_FILE).
const http = require('http');
const fs = require('fs');
const file = process.env.RCHA_METRICS_FILE;
const port = Number(process.env.RCHA_BACKUP_METRICS_PORT || 9639);
const interval = Number(process.env.RCHA_BACKUP_INTERVAL_SECONDS || 0);
function body() {
  let text = '';
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    // No run yet: no success, and since when the job has been waiting.
    let since = 0;
    try {
      since = Number(fs.readFileSync(process.env.RCHA_SINCE_FILE || '', 'utf8').trim()) || 0;
    } catch (e2) {
      since = 0;
    }
    text = '# HELP rcha_backup_last_success_timestamp_seconds Unix time of the last successful backup (0: none yet).\n' +
      '# TYPE rcha_backup_last_success_timestamp_seconds gauge\nrcha_backup_last_success_timestamp_seconds 0\n' +
      '# HELP rcha_backup_since_timestamp_seconds Unix time the backup job first started on this volume.\n' +
      '# TYPE rcha_backup_since_timestamp_seconds gauge\nrcha_backup_since_timestamp_seconds ' + since + '\n';
  }
  return text +
    '# HELP rcha_backup_interval_seconds Longest time between two scheduled backups (the schedule\'s longest gap).\n' +
    '# TYPE rcha_backup_interval_seconds gauge\n' +
    'rcha_backup_interval_seconds ' + interval + '\n';
}
const server = http.createServer((req, res) => {
  if (req.method !== 'GET' || (req.url !== '/metrics' && req.url !== '/')) {
    res.writeHead(404, { 'Content-Type': 'text/plain' });
    res.end('not found: GET /metrics\n');
    return;
  }
  res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4' });
  res.end(body());
});
server.on('error', (e) => { print('rocketchat-ha backup metrics: ' + e.message); quit(1); });
server.listen(port, process.env.RCHA_BACKUP_METRICS_BIND || '0.0.0.0');
// mongosh ends when the script does; its sleep lets the server answer.
for (;;) { sleep(60000); }
