// rocketchat-ha replica-set reconciler, run by mongosh:
//   mongosh --nodb --quiet --norc reconcile.js
// Input comes only from the environment, never from the command line:
//   RCHA_DESIRED                 desired state JSON (components.DesiredState; holds user passwords)
//   RCHA_ROOT_PASSWORD           root password wanted now
//   RCHA_ROOT_PASSWORD_PREVIOUS  root password applied by the previous successful run ("" on the first)
// Modes (desired.mode): "" (full) initiates, adds, removes and re-votes members, then
// creates, updates and rotates users, root last. "prune" only removes the members that are
// not desired and applies the desired votes/priorities of those that stay; it never
// initiates, never adds a member, never touches a user, and does nothing on a set that is
// not initiated or has no user yet. It runs before any mongod change on scale-in.
// On success the last line is "rcha-reconcile: root password in effect: current|previous":
// which of RCHA_ROOT_PASSWORD and RCHA_ROOT_PASSWORD_PREVIOUS now authenticates as root.
// It talks to MongoDB only through new Mongo(uri), conn.getDB(name), db.runCommand(cmd),
// db.auth(user, pwd) and sleep(ms), so tests can run it unchanged against a simulated
// replica set (tests/mongosh). Every line it prints starts with "rcha-reconcile:"; it never
// prints a password. Exit codes: 0 converged, 1 a command failed, 2 invalid input,
// 3 a bounded wait ran out, 4 root authentication failed with both passwords.
// Re-running it is always safe: on a converged replica set it makes no write at all.

function rchaReconcile() {
  const PREFIX = 'rcha-reconcile:';
  const EXIT_FAILED = 1;
  const EXIT_INPUT = 2;
  const EXIT_TIMEOUT = 3;
  const EXIT_AUTH = 4;
  const MAX_VOTERS = 7;
  const POLL_MS = 1000;
  const STATE_NAMES = {
    0: 'STARTUP', 1: 'PRIMARY', 2: 'SECONDARY', 3: 'RECOVERING', 5: 'STARTUP2',
    6: 'UNKNOWN', 7: 'ARBITER', 8: 'DOWN', 9: 'ROLLBACK', 10: 'REMOVED',
  };
  const env = (typeof process !== 'undefined' && process.env) ? process.env : {};
  const secrets = [];

  function redact(text) {
    let s = String(text);
    for (let i = 0; i < secrets.length; i++) {
      if (secrets[i]) s = s.split(secrets[i]).join('***');
    }
    return s;
  }
  function log(msg) {
    print(PREFIX + ' ' + redact(msg));
  }
  function failure(exitCode, msg) {
    const e = new Error(msg);
    e.rchaExit = exitCode;
    return e;
  }
  function describe(e) {
    if (e === null || e === undefined) return 'unknown error';
    let s = String(e.message || e.errmsg || e);
    if (e.code !== undefined) s += ' (code ' + e.code + (e.codeName ? ' ' + e.codeName : '') + ')';
    return s;
  }
  function codeOf(e) {
    return (e && typeof e.code === 'number') ? e.code : undefined;
  }

  // ---- input -------------------------------------------------------------
  const rootPassword = env.RCHA_ROOT_PASSWORD || '';
  const previousRoot = env.RCHA_ROOT_PASSWORD_PREVIOUS || '';
  secrets.push(rootPassword, previousRoot);
  let desired;
  try {
    desired = JSON.parse(env.RCHA_DESIRED || '');
  } catch (e) {
    // The parser's message may quote the input, which holds passwords: do not show it.
    throw failure(EXIT_INPUT, 'reading RCHA_DESIRED: it is not valid JSON');
  }
  if (!desired || typeof desired !== 'object') throw failure(EXIT_INPUT, 'reading RCHA_DESIRED: not a JSON object');
  const users = Array.isArray(desired.users) ? desired.users : [];
  for (let i = 0; i < users.length; i++) secrets.push(users[i] && users[i].pwd);
  const members = Array.isArray(desired.members) ? desired.members : [];
  if (!desired.replicaSet || !desired.local || !desired.rootUser || members.length === 0) {
    throw failure(EXIT_INPUT, 'reading RCHA_DESIRED: replicaSet, local, rootUser and at least one member are required');
  }
  for (let i = 0; i < members.length; i++) {
    const m = members[i];
    if (!m || typeof m.host !== 'string' || !m.host || (m.votes !== 0 && m.votes !== 1) || typeof m.priority !== 'number') {
      throw failure(EXIT_INPUT, 'reading RCHA_DESIRED: member ' + i + ' needs host, votes 0 or 1, and a numeric priority');
    }
  }
  for (let i = 0; i < users.length; i++) {
    const u = users[i];
    if (!u || !u.user || !u.db || !u.pwd || !Array.isArray(u.roles)) {
      throw failure(EXIT_INPUT, 'reading RCHA_DESIRED: user ' + i + ' needs user, db, pwd and roles');
    }
  }
  if (!rootPassword) throw failure(EXIT_INPUT, 'RCHA_ROOT_PASSWORD is empty');
  const waitSeconds = Number(desired.waitSeconds);
  if (!(waitSeconds >= 1)) throw failure(EXIT_INPUT, 'reading RCHA_DESIRED: waitSeconds must be at least 1');
  const waitMs = Math.round(waitSeconds * 1000);
  const rsName = desired.replicaSet;
  const member0 = members[0].host;
  const rootUser = desired.rootUser;
  const wc = { w: 'majority', wtimeout: waitMs };
  const mode = desired.mode === undefined || desired.mode === '' ? 'full' : desired.mode;
  if (mode !== 'full' && mode !== 'prune') {
    throw failure(EXIT_INPUT, 'reading RCHA_DESIRED: mode ' + JSON.stringify(String(mode)) + ' is neither "" (full) nor "prune"');
  }
  const prune = mode === 'prune';

  // ---- server access -----------------------------------------------------
  function open(host) {
    const t = Math.min(waitMs, 30000);
    const uri = 'mongodb://' + host + '/?directConnection=true&serverSelectionTimeoutMS=' + t + '&connectTimeoutMS=' + t;
    const conn = new Mongo(uri);
    return { host: host, conn: conn, admin: conn.getDB('admin') };
  }
  // run returns the reply, or throws a failure naming the action and the member.
  function run(c, dbName, cmd, action) {
    try {
      return c.conn.getDB(dbName).runCommand(cmd);
    } catch (e) {
      throw failure(EXIT_FAILED, action + ' on ' + c.host + ': ' + describe(e));
    }
  }
  // attempt returns {ok, reply} or {ok: false, error} without throwing.
  function attempt(c, dbName, cmd) {
    try {
      return { ok: true, reply: c.conn.getDB(dbName).runCommand(cmd) };
    } catch (e) {
      return { ok: false, error: e };
    }
  }
  // authAs opens a fresh connection to host and authenticates; it returns the
  // connection, null when the credentials are rejected (code 18), and throws otherwise.
  function authAs(host, dbName, user, pwd, action) {
    let c;
    try {
      c = open(host);
    } catch (e) {
      throw failure(EXIT_FAILED, 'connecting to ' + host + ' for ' + action + ': ' + describe(e));
    }
    try {
      c.conn.getDB(dbName).auth(user, pwd);
      return c;
    } catch (e) {
      if (codeOf(e) === 18) return null;
      throw failure(EXIT_FAILED, action + ' on ' + host + ': ' + describe(e));
    }
  }
  // authRoot tries the current root password, then the previous one.
  function authRoot(host) {
    const c = authAs(host, 'admin', rootUser, rootPassword, 'authenticating as ' + rootUser + ' with the current password');
    if (c) return { c: c, which: 'current' };
    if (previousRoot && previousRoot !== rootPassword) {
      const p = authAs(host, 'admin', rootUser, previousRoot, 'authenticating as ' + rootUser + ' with the previous password');
      if (p) return { c: p, which: 'previous' };
    }
    return null;
  }
  let rootWhich = null; // 'current' or 'previous' once authenticated
  function authRootOrFail(host) {
    const r = authRoot(host);
    if (!r) {
      throw failure(EXIT_AUTH, 'authenticating as ' + rootUser + ' on ' + host +
        ': rejected with the current and the previous root password');
    }
    rootWhich = r.which;
    return r.c;
  }
  function rootConn(host) {
    const pwd = rootWhich === 'previous' ? previousRoot : rootPassword;
    const c = authAs(host, 'admin', rootUser, pwd, 'authenticating as ' + rootUser);
    if (!c) throw failure(EXIT_AUTH, 'authenticating as ' + rootUser + ' on ' + host + ': password rejected');
    return c;
  }

  // waitFor polls check() until it reports done, for at most waitSeconds. check
  // returns {done, detail}; errors it throws count as "not yet".
  function waitFor(what, check) {
    const deadline = Date.now() + waitMs;
    let slept = 0;
    let detail = '';
    for (;;) {
      try {
        const r = check();
        if (r.done) return r;
        detail = r.detail || '';
      } catch (e) {
        // Failed commands are retried until the bound (elections, step-downs,
        // restarts); timeouts, bad input and rejected credentials are final.
        if (e && e.rchaExit && e.rchaExit !== EXIT_FAILED) throw e;
        detail = (e && e.rchaExit) ? e.message : describe(e);
      }
      if (slept >= waitMs || Date.now() >= deadline) {
        throw failure(EXIT_TIMEOUT, 'timed out after ' + waitSeconds + 's ' + what + (detail ? ': ' + detail : ''));
      }
      sleep(POLL_MS);
      slept += POLL_MS;
    }
  }
  function stateName(s) {
    return STATE_NAMES[s] || ('state ' + s);
  }

  // ---- initiate ----------------------------------------------------------
  if (prune) {
    log('pruning replica set ' + rsName + ' down to the ' + members.length + ' desired member(s) (prune mode: ' +
        'no initiate, no member added, no user change), every wait bounded by ' + waitSeconds + 's');
  } else {
    log('reconciling replica set ' + rsName + ': ' + members.length + ' member(s), ' +
        users.length + ' user(s) besides ' + rootUser + ', every wait bounded by ' + waitSeconds + 's');
  }
  let local;
  try {
    local = open(desired.local);
  } catch (e) {
    throw failure(EXIT_FAILED, 'connecting to the local mongod ' + desired.local + ' (member 0, ' + member0 + '): ' + describe(e));
  }
  const hello0 = run(local, 'admin', { hello: 1 }, 'reading hello');
  if (hello0.setName && hello0.setName !== rsName) {
    throw failure(EXIT_INPUT, 'the local mongod ' + desired.local + ' belongs to replica set ' + hello0.setName + ', not ' + rsName);
  }
  let auth = authRoot(desired.local);
  if (auth) rootWhich = auth.which;
  let initiated;
  if (auth) {
    const st = attempt(auth.c, 'admin', { replSetGetStatus: 1 });
    if (st.ok) initiated = true;
    else if (codeOf(st.error) === 94) initiated = false;
    else throw failure(EXIT_FAILED, 'reading replica-set status on ' + desired.local + ': ' + describe(st.error));
  } else {
    // No root login: either no user exists yet (localhost exception) or the
    // passwords are wrong. hello needs no authentication.
    initiated = Boolean(hello0.setName);
    const known = (hello0.hosts || []).length + (hello0.passives || []).length;
    if (initiated && known > 1) {
      // Members are only added after the root user exists, so users exist.
      throw failure(EXIT_AUTH, 'authenticating as ' + rootUser + ' on ' + desired.local +
        ': rejected with the current and the previous root password');
    }
  }
  if (prune && !initiated) {
    log('nothing to prune: the local mongod ' + desired.local + ' has no replica-set config yet; no write');
    return auth ? auth.which : 'current';
  }
  if (prune && !auth) {
    log('nothing to prune: replica set ' + rsName + ' has only member 0 and no user yet (localhost exception); no write');
    return 'current';
  }
  if (!initiated) {
    // Member 0 has no config. If any other desired member already belongs to
    // the set, member 0 is a new node placed first: initiating here would
    // start a second replica set beside the real one. hello needs no login.
    for (let i = 1; i < members.length; i++) {
      let h = null;
      try {
        h = open(members[i].host).admin.runCommand({ hello: 1 });
      } catch (e) {
        continue; // not reachable (yet): it cannot hold the set either
      }
      if (h && h.setName === rsName) {
        throw failure(EXIT_INPUT, 'initiating replica set ' + rsName + ' on member 0 ' + member0 + ': member ' +
          members[i].host + ' already belongs to ' + rsName + '; initiating would start a second set. ' +
          'List a current member first in nodes (node 0 initiates and runs the step)');
      }
    }
    const m = members[0];
    const cfg = { _id: rsName, version: 1, members: [{ _id: 0, host: m.host, votes: m.votes, priority: m.priority }] };
    log('initiating replica set ' + rsName + ' with member 0 ' + m.host + ' alone' +
        (auth ? '' : ' (localhost exception)'));
    const r = attempt(auth ? auth.c : local, 'admin', { replSetInitiate: cfg });
    if (!r.ok && codeOf(r.error) !== 23) {
      throw failure(EXIT_FAILED, 'initiating replica set ' + rsName + ' with member 0 ' + m.host + ' on ' + desired.local + ': ' + describe(r.error));
    }
    if (!r.ok) log('replica set ' + rsName + ' was already initiated (code 23)');
  }
  if (!auth) {
    waitFor('waiting for member 0 ' + member0 + ' to become primary', function () {
      const h = local.admin.runCommand({ hello: 1 });
      return { done: h.isWritablePrimary === true, detail: 'it is not primary yet' };
    });
    log('creating root user ' + rootUser + ' on member 0 ' + member0 + ' (localhost exception)');
    const r = attempt(local, 'admin', {
      createUser: rootUser, pwd: rootPassword, roles: [{ role: 'root', db: 'admin' }], writeConcern: wc,
    });
    if (!r.ok) {
      const c = codeOf(r.error);
      if (c === 13 || c === 51003 || c === 11000) {
        throw failure(EXIT_AUTH, 'authenticating as ' + rootUser + ' on ' + desired.local +
          ': rejected with the current and the previous root password, and the localhost exception is closed (' + describe(r.error) + ')');
      }
      throw failure(EXIT_FAILED, 'creating root user ' + rootUser + ' on ' + desired.local + ': ' + describe(r.error));
    }
    auth = { c: authRootOrFail(desired.local), which: 'current' };
  }

  // ---- primary -----------------------------------------------------------
  let primary = null; // authenticated connection to the primary, by member host name
  function findPrimary(why) {
    let found = null;
    waitFor('waiting for a primary in ' + rsName + (why ? ' ' + why : ''), function () {
      const h = auth.c.admin.runCommand({ hello: 1 });
      if (!h.primary) return { done: false, detail: 'no member is primary' };
      if (!primary || primary.host !== h.primary) primary = rootConn(h.primary);
      const ph = primary.admin.runCommand({ hello: 1 });
      if (ph.isWritablePrimary !== true) {
        primary = null;
        return { done: false, detail: h.primary + ' is no longer primary' };
      }
      found = primary;
      return { done: true };
    });
    return found;
  }
  function readConfig(p) {
    const r = run(p, 'admin', { replSetGetConfig: 1, commitmentStatus: true }, 'reading the replica-set config');
    return { config: r.config, committed: r.commitmentStatus === true };
  }
  function readStatus(p) {
    const st = run(p, 'admin', { replSetGetStatus: 1 }, 'reading the replica-set status');
    const byHost = {};
    for (let i = 0; i < (st.members || []).length; i++) byHost[st.members[i].name] = st.members[i];
    return byHost;
  }

  findPrimary('');
  log('primary is ' + primary.host);

  // ---- membership --------------------------------------------------------
  const wantByHost = {};
  for (let i = 0; i < members.length; i++) wantByHost[members[i].host] = members[i];
  function isVoter(m) {
    return (m.votes === undefined ? 1 : m.votes) > 0;
  }
  function priorityOf(m) {
    return m.priority === undefined ? 1 : m.priority;
  }
  function nextId(cur) {
    const used = {};
    for (let i = 0; i < cur.length; i++) used[cur[i]._id] = true;
    let id = 0;
    while (used[id]) id++;
    return id;
  }
  // plan picks the next single change: remove non-voters, add members, promote,
  // remove or demote voters, then fix priorities. It changes at most one voter.
  function plan(cfg) {
    const cur = cfg.members;
    let voters = 0;
    const curByHost = {};
    for (let i = 0; i < cur.length; i++) {
      if (isVoter(cur[i])) voters++;
      curByHost[cur[i].host] = cur[i];
    }
    const wanted = function (m) { return Boolean(wantByHost[m.host]) && !m.arbiterOnly; };
    for (let i = 0; i < cur.length; i++) {
      if (!wanted(cur[i]) && !isVoter(cur[i])) return { kind: 'remove', host: cur[i].host, id: cur[i]._id, voter: false };
    }
    for (let i = 0; i < cur.length; i++) {
      if (cur[i].arbiterOnly && voters > 1) return { kind: 'remove', host: cur[i].host, id: cur[i]._id, voter: true };
    }
    // Prune mode never adds: a desired member that is not configured may not exist yet.
    for (let i = 0; i < members.length && !prune; i++) {
      const w = members[i];
      if (curByHost[w.host]) continue;
      const asVoter = w.votes > 0 && voters + 1 <= MAX_VOTERS;
      return {
        kind: 'add', host: w.host, id: nextId(cur),
        votes: asVoter ? 1 : 0, priority: asVoter ? w.priority : 0, voter: asVoter,
      };
    }
    for (let i = 0; i < members.length; i++) {
      const w = members[i];
      const m = curByHost[w.host];
      if (m && w.votes > 0 && !isVoter(m) && voters < MAX_VOTERS) {
        return { kind: 'promote', host: w.host, id: m._id, votes: 1, priority: w.priority, voter: true };
      }
    }
    for (let i = 0; i < cur.length; i++) {
      if (!wanted(cur[i]) && isVoter(cur[i]) && voters > 1) return { kind: 'remove', host: cur[i].host, id: cur[i]._id, voter: true };
    }
    for (let i = 0; i < members.length; i++) {
      const w = members[i];
      const m = curByHost[w.host];
      if (m && w.votes === 0 && isVoter(m) && voters > 1) {
        return { kind: 'demote', host: w.host, id: m._id, votes: 0, priority: 0, voter: true };
      }
    }
    const fixes = [];
    for (let i = 0; i < members.length; i++) {
      const w = members[i];
      const m = curByHost[w.host];
      if (m && (isVoter(m) ? 1 : 0) === w.votes && priorityOf(m) !== w.priority) fixes.push(w);
    }
    if (fixes.length > 0) return { kind: 'priority', fixes: fixes, voter: false };
    return null;
  }
  function describePlan(pl) {
    switch (pl.kind) {
      case 'remove': return 'removing ' + (pl.voter ? 'voting' : 'non-voting') + ' member ' + pl.host + ' (_id ' + pl.id + ')';
      case 'add': return 'adding member ' + pl.host + ' (_id ' + pl.id + ', votes ' + pl.votes + ', priority ' + pl.priority + ')';
      case 'promote': return 'giving member ' + pl.host + ' (_id ' + pl.id + ') votes 1, priority ' + pl.priority;
      case 'demote': return 'making member ' + pl.host + ' (_id ' + pl.id + ') non-voting (votes 0, priority 0)';
      default: {
        const hs = [];
        for (let i = 0; i < pl.fixes.length; i++) hs.push(pl.fixes[i].host + '=' + pl.fixes[i].priority);
        return 'setting priorities ' + hs.join(', ');
      }
    }
  }
  // applyPlan copies the config shallowly so that server-typed values such as
  // settings.replicaSetId (an ObjectId) go back unchanged; the server sets term.
  function applyPlan(cfg, pl) {
    const next = Object.assign({}, cfg);
    delete next.term;
    next.members = [];
    for (let i = 0; i < cfg.members.length; i++) next.members.push(Object.assign({}, cfg.members[i]));
    next.version = cfg.version + 1;
    if (pl.kind === 'remove') {
      next.members = next.members.filter(function (m) { return m.host !== pl.host; });
    } else if (pl.kind === 'add') {
      next.members.push({ _id: pl.id, host: pl.host, votes: pl.votes, priority: pl.priority });
    } else if (pl.kind === 'promote' || pl.kind === 'demote') {
      for (let i = 0; i < next.members.length; i++) {
        if (next.members[i].host === pl.host) {
          next.members[i].votes = pl.votes;
          next.members[i].priority = pl.priority;
        }
      }
    } else {
      for (let i = 0; i < next.members.length; i++) {
        const w = wantByHost[next.members[i].host];
        if (w && (isVoter(next.members[i]) ? 1 : 0) === w.votes) next.members[i].priority = w.priority;
      }
    }
    return next;
  }
  // onPrimary runs fn with the primary's connection and forgets the primary
  // when fn throws, so that the next poll looks it up again.
  function onPrimary(fn) {
    const p = primary || findPrimary('');
    try {
      return fn(p);
    } catch (e) {
      primary = null;
      throw e;
    }
  }
  // settle waits until the current config is committed and every member that
  // is both configured and desired is PRIMARY or SECONDARY.
  function settle(before) {
    waitFor('waiting for the replica-set config to be committed and desired members to be healthy before ' + before, function () {
      return onPrimary(function (p) {
        const rc = readConfig(p);
        if (!rc.committed) return { done: false, detail: 'config version ' + rc.config.version + ' is not committed yet on primary ' + p.host };
        const st = readStatus(p);
        for (let i = 0; i < rc.config.members.length; i++) {
          const m = rc.config.members[i];
          if (!wantByHost[m.host]) continue;
          const s = st[m.host];
          if (!s || (s.state !== 1 && s.state !== 2)) {
            return { done: false, detail: 'member ' + m.host + ' (_id ' + m._id + ') is ' + (s ? stateName(s.state) : 'missing from the status') };
          }
        }
        return { done: true };
      });
    });
  }
  function stepDown(host) {
    log('stepping down primary ' + host + ' before changing its membership');
    const catchUp = Math.max(1, Math.min(10, waitSeconds));
    const r = attempt(primary, 'admin', { replSetStepDown: Math.max(60, waitSeconds), secondaryCatchUpPeriodSecs: catchUp });
    // A step-down may cut the connection (no code) or interrupt it (189, 11602).
    if (!r.ok && codeOf(r.error) !== undefined && codeOf(r.error) !== 189 && codeOf(r.error) !== 11602) {
      throw failure(EXIT_FAILED, 'stepping down primary ' + host + ': ' + describe(r.error));
    }
    primary = null;
    waitFor('waiting for a new primary after stepping down ' + host, function () {
      const h = auth.c.admin.runCommand({ hello: 1 });
      if (!h.primary || h.primary === host) return { done: false, detail: h.primary ? host + ' is still primary' : 'no member is primary' };
      return { done: true };
    });
    findPrimary('after stepping down ' + host);
    log('primary is now ' + primary.host);
  }
  // waitCommitted waits until the reconfig to version is committed, an added
  // or promoted member is SECONDARY, and a removed member is gone.
  function waitCommitted(pl, version) {
    waitFor('waiting for ' + describePlan(pl) + ' to be committed', function () {
      return onPrimary(function (p) {
        const rc = readConfig(p);
        if (rc.config.version < version) return { done: false, detail: 'primary ' + p.host + ' has config version ' + rc.config.version + ', want ' + version };
        if (!rc.committed) return { done: false, detail: 'config version ' + rc.config.version + ' is not committed yet on primary ' + p.host };
        let present = null;
        for (let i = 0; i < rc.config.members.length; i++) {
          if (rc.config.members[i].host === pl.host) present = rc.config.members[i];
        }
        if (pl.kind === 'remove') {
          return present ? { done: false, detail: pl.host + ' is still in the config' } : { done: true };
        }
        if (pl.kind === 'add' || pl.kind === 'promote') {
          if (!present) return { done: false, detail: pl.host + ' is not in the config' };
          const s = readStatus(p)[pl.host];
          if (!s || s.state !== 2) {
            return { done: false, detail: 'member ' + pl.host + ' (_id ' + pl.id + ') is ' + (s ? stateName(s.state) : 'missing from the status') + ', want SECONDARY' };
          }
        }
        return { done: true };
      });
    });
  }

  const maxSteps = 4 * (members.length + readConfig(primary).config.members.length) + 10;
  let changes = 0;
  for (let step = 0; ; step++) {
    if (step >= maxSteps) throw failure(EXIT_FAILED, 'changing membership on ' + (primary ? primary.host : rsName) + ': did not converge after ' + maxSteps + ' steps');
    if (!primary) findPrimary('');
    let pl = plan(readConfig(primary).config);
    if (!pl) break;
    settle(describePlan(pl));
    const cfg = readConfig(primary).config;
    pl = plan(cfg);
    if (!pl) break;
    if ((pl.kind === 'remove' || pl.kind === 'demote') && pl.host === primary.host) {
      stepDown(pl.host);
      continue;
    }
    const next = applyPlan(cfg, pl);
    log(describePlan(pl) + ' on primary ' + primary.host + ' (config version ' + cfg.version + ' -> ' + next.version + ')');
    run(primary, 'admin', { replSetReconfig: next, maxTimeMS: waitMs }, describePlan(pl));
    changes++;
    waitCommitted(pl, next.version);
    log('committed: ' + describePlan(pl));
  }
  if (changes === 0 && prune) log('nothing to prune: no configured member is departing and every vote is as desired');
  else if (changes === 0) log('membership is up to date (' + members.length + ' member(s))');
  if (prune) {
    // Users are left to the full run; the members still configured must be healthy.
    settle('finishing');
    const configured = readConfig(primary).config.members.length;
    log('prune of replica set ' + rsName + ' converged: ' + configured + ' member(s) configured, primary ' + primary.host +
        ', ' + changes + ' membership change(s), 0 user write(s)');
    return rootWhich;
  }

  // ---- users -------------------------------------------------------------
  function sameRoles(a, b) {
    const key = function (rs) {
      const out = [];
      for (let i = 0; i < rs.length; i++) out.push(rs[i].db + '.' + rs[i].role);
      return out.sort().join(',');
    };
    return key(a || []) === key(b || []);
  }
  function exactRoles(rs) {
    const out = [];
    for (let i = 0; i < rs.length; i++) out.push({ role: rs[i].role, db: rs[i].db });
    return out;
  }
  let userWrites = 0;
  // ensureUser creates or updates one user; passwordCurrent is true or false
  // when already known, or null to check it by authenticating as the user.
  function ensureUser(u, passwordCurrent) {
    const name = u.user + '@' + u.db;
    if (!primary) findPrimary('');
    const info = run(primary, u.db, { usersInfo: { user: u.user, db: u.db } }, 'reading user ' + name);
    const found = (info.users || []).length > 0 ? info.users[0] : null;
    if (!found) {
      log('creating user ' + name + ' on primary ' + primary.host);
      run(primary, u.db, { createUser: u.user, pwd: u.pwd, roles: exactRoles(u.roles), writeConcern: wc }, 'creating user ' + name);
      userWrites++;
      return;
    }
    const update = { updateUser: u.user };
    const what = [];
    if (!sameRoles(found.roles, u.roles)) {
      update.roles = exactRoles(u.roles);
      what.push('roles');
    }
    let pwdOk = passwordCurrent;
    if (pwdOk === null) pwdOk = authAs(primary.host, u.db, u.user, u.pwd, 'checking the password of ' + name) !== null;
    if (!pwdOk) {
      update.pwd = u.pwd;
      what.push('password');
    }
    if (what.length === 0) {
      log('user ' + name + ' is up to date');
      return;
    }
    update.writeConcern = wc;
    log('updating ' + what.join(' and ') + ' of user ' + name + ' on primary ' + primary.host);
    run(primary, u.db, update, 'updating ' + what.join(' and ') + ' of user ' + name);
    userWrites++;
  }
  for (let i = 0; i < users.length; i++) {
    if (users[i].db === 'admin' && users[i].user === rootUser) {
      throw failure(EXIT_INPUT, 'reading RCHA_DESIRED: user ' + rootUser + '@admin is the root user and must not be in users');
    }
    ensureUser(users[i], null);
  }
  // Reads only: a member added by an earlier, interrupted run must also have
  // reached SECONDARY before the replica set counts as converged. This comes
  // before the root update, so that once root is rotated nothing is left
  // that can fail: a run that applied a new root password always succeeds
  // and reports it.
  settle('finishing');
  // The root user comes last: everything above ran with whichever root password worked.
  ensureUser({ user: rootUser, db: 'admin', pwd: rootPassword, roles: [{ role: 'root', db: 'admin' }] }, rootWhich === 'current');
  log('replica set ' + rsName + ' converged: ' + members.length + ' member(s), primary ' + primary.host +
      ', ' + changes + ' membership change(s), ' + userWrites + ' user write(s)');
  return 'current'; // root was updated last, to the current password
}

try {
  const inEffect = rchaReconcile();
  // Must stay the last line: the caller reads it to remember the root password.
  print('rcha-reconcile: root password in effect: ' + inEffect);
} catch (e) {
  let msg = (e && e.message) ? e.message : String(e);
  const secretsNow = [];
  if (typeof process !== 'undefined' && process.env) {
    secretsNow.push(process.env.RCHA_ROOT_PASSWORD, process.env.RCHA_ROOT_PASSWORD_PREVIOUS);
    try {
      const d = JSON.parse(process.env.RCHA_DESIRED || '{}');
      for (let i = 0; i < ((d && d.users) || []).length; i++) secretsNow.push(d.users[i].pwd);
    } catch (ignored) {
      // Already reported as invalid input.
    }
  }
  for (let i = 0; i < secretsNow.length; i++) {
    if (secretsNow[i]) msg = msg.split(secretsNow[i]).join('***');
  }
  print('rcha-reconcile: ERROR: ' + msg);
  quit((e && e.rchaExit) ? e.rchaExit : 1);
}
quit(0);
