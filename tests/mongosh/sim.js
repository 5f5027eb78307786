// =====================================================================================
// SIMULATION - THIS IS NOT MONGODB.
// A small JavaScript model of a MongoDB replica set with --auth and a keyfile, loaded by
// real mongosh before internal/replicaset/reconcile.js:
//   mongosh --nodb --quiet --norc sim.js reconcile.js
// It replaces the globals the reconciler uses (Mongo, sleep, quit) and answers the
// commands it sends (hello, replSetGetStatus, replSetGetConfig, replSetInitiate,
// replSetReconfig, replSetStepDown, usersInfo, createUser, updateUser, auth, buildInfo,
// getParameter, setFeatureCompatibilityVersion) with
// MongoDB's rules and error codes, as documented, so that a script that breaks a rule
// fails here too. It returns mongosh "synthetic promises", like the real shell API, so
// the script also runs through mongosh's async rewriter as it does in production.
//
// What it models: localhost exception (only hello, replSetInitiate and a first createUser
// on admin, closed once a user exists); authentication (18) and Unauthorized (13);
// NotYetInitialized (94), AlreadyInitialized (23), NodeNotFound (74),
// CannotInitializeNodeWithData (110), InvalidReplicaSetConfig (93),
// NewReplicaSetConfigurationIncompatible (103: version not greater, more than one voter
// changed, _id/host remapped, set id changed, primary made unelectable),
// ConfigurationInProgress (109: previous config not committed), NotWritablePrimary
// (10107), UserNotFound (11), user already exists (51003), no electable secondary for a
// step-down (262); newlyAdded members (hidden from replSetGetConfig, rejected in a
// reconfig, removed by an automatic reconfig after initial sync); members must be
// running to reach SECONDARY; elections need a majority of running voters; config
// commitment needs a majority of voters; a primary that no longer sees a majority of the
// voters (counting itself) steps down at once (real mongod: within electionTimeoutMillis);
// virtual time (sleep advances it, instantly).
// Forced reconfigs (replSetReconfig with force: true): see reconfig() below. Accepted only
// on a member that is not primary and only while no member at all is primary (a rule of
// this simulation, stricter than mongod, see there); they skip the rules a forced
// reconfig skips in MongoDB (committed config, one voter change, version, this node
// electable), keep the replicaSetId, and get a version raised by the server (mongod adds
// a large random number; here version + 10000 + a deterministic 0..9999). An election
// among the new config's running voters (a majority of the NEW config) can follow.
// S.forcedReconfigs counts every force the simulation received, accepted or refused.
// There is one config for the whole set (S.config): a config written on any member is at
// once the config of every member, so a forced config "propagates" to every running
// member of it, and members it drops see themselves removed (hello without setName).
// hello on a member that is not running fails with a network error, like every command.
// Versions (see VERSIONS below; the facts and their sources are in docs/facts.md,
// "Upgrades"): every node has a binary release (n.version, "7.0" when absent) and the
// set one featureCompatibilityVersion (S.fcv, by default the lowest binary release, with
// S.fcvTarget/S.fcvPrevious for a change left in transition). buildInfo (no login) answers
// {version: "<major.minor>.0"}; getParameter {featureCompatibilityVersion: 1} (login,
// admin database) answers {featureCompatibilityVersion: {version[, targetVersion,
// previousVersion]}}; setFeatureCompatibilityVersion is a write with MongoDB's rules (see
// setFcv). A node whose binary does not accept the FCV of its data does not start (real
// mongod exits with code 62): it stays DOWN, with n.failedStart, until its binary changes.
// Tests "roll" a node to another binary by editing n.version between runs.
// What it does not model: the network, oplog contents, rollback, write concern timing,
// SCRAM, TLS, DNS, elections racing with commands, real server timing, per-member
// configs (a DOWN member that returns learns the current config at once).
//
// Input (environment):
//   RCHA_SIM_STATE        path of a JSON state file; read at start, rewritten after every
//                         write and at exit (tests read it back)
//   RCHA_SIM_KILL_AFTER   N > 0: exit with code 137 right after the N-th write, like a kill
//   RCHA_SIM_LOCAL_NODE   optional member host (e.g. "node2:27017"): the node the script runs
//                         next to for this mongosh run only, overriding the state file's
//                         localNode (not written back; the next run uses localNode again)
//   RCHA_SIM_LOCAL_ALIAS  optional host:port (e.g. "127.0.0.1:27019"): the address under which
//                         this run reaches its local node, overriding the state file's
//                         localAlias for this run only (not written back). Any other
//                         127.0.0.1 or localhost address is refused with ECONNREFUSED.
// =====================================================================================
(function rchaSimulation() {
  const fs = require('fs');
  const SYNTHETIC = Symbol.for('@@mongosh.syntheticPromise');
  const realQuit = globalThis.quit;
  const statePath = process.env.RCHA_SIM_STATE;
  if (!statePath) throw new Error('sim: RCHA_SIM_STATE is not set');
  const killAfter = Number(process.env.RCHA_SIM_KILL_AFTER || 0);
  const S = JSON.parse(fs.readFileSync(statePath, 'utf8'));
  // Per-run local node and alias: kept out of S, so that save() never persists them.
  const localNode = process.env.RCHA_SIM_LOCAL_NODE || S.localNode;
  const localAlias = process.env.RCHA_SIM_LOCAL_ALIAS || S.localAlias;
  if (!S.nodes[localNode]) throw new Error('sim: the local node ' + localNode + ' is not a simulated node');
  if (!/^(localhost|127\.0\.0\.1):\d+$/.test(localAlias)) throw new Error('sim: the local alias ' + localAlias + ' is not a localhost address');

  // ---- versions (constants) --------------------------------------------------------
  // Release order of this simulation: MongoDB's upgrade notes say each release is reached
  // only from the one before it ("to 8.0 ... you must be running a 7.0-series release";
  // "to 8.2 ... a 8.0-series release"; 8.1 is Atlas-only: the 7.0, 8.0 and 8.2
  // release notes, "Upgrade a Replica Set"; docs/facts.md, Upgrades).
  const RELEASES = ['4.4', '5.0', '6.0', '7.0', '8.0', '8.2'];
  // A node without a version in the state runs this binary (the default image, mongo:7.0.x).
  const DEFAULT_VERSION = '7.0';
  function compareRelease(a, b) {
    const x = a.split('.').map(Number);
    const y = b.split('.').map(Number);
    return x[0] !== y[0] ? x[0] - y[0] : x[1] - y[1];
  }
  function releaseBefore(v) {
    const i = RELEASES.indexOf(v);
    return i > 0 ? RELEASES[i - 1] : null;
  }
  // The FCV values a binary accepts: its own release and the one before it ("8.0
  // accepts '8.0' and '7.0'; 7.0 accepts '7.0' and '6.0'": the setFeatureCompatibilityVersion
  // reference page).
  function acceptedBy(binary) {
    const before = releaseBefore(binary);
    return before ? [before, binary] : [binary];
  }

  // ---- defaults --------------------------------------------------------------------
  S.clock = S.clock || 0;
  S.syncDelayMs = S.syncDelayMs === undefined ? 3000 : S.syncDelayMs;
  S.electionDelayMs = S.electionDelayMs === undefined ? 2000 : S.electionDelayMs;
  S.propagateDelayMs = S.propagateDelayMs === undefined ? 500 : S.propagateDelayMs;
  S.users = S.users || [];
  S.writes = S.writes || [];
  S.commands = S.commands || {};
  S.newlyAdded = S.newlyAdded || {};
  S.runs = (S.runs || 0) + 1;
  S.sleptMs = S.sleptMs || 0;
  S.runSleptMs = 0;
  S.runStartClock = S.clock;
  S.term = S.term || 0;
  if (S.primary === undefined) S.primary = null;
  if (S.electionAt === undefined) S.electionAt = null;
  if (S.config === undefined) S.config = null;
  for (const h of Object.keys(S.nodes)) {
    const n = S.nodes[h];
    if (n.running === undefined) n.running = true;
    if (n.syncDoneAt === undefined) n.syncDoneAt = null;
    if (n.stepDownUntil === undefined) n.stepDownUntil = 0;
    if (n.version === undefined) n.version = DEFAULT_VERSION;
    if (RELEASES.indexOf(n.version) < 0) throw new Error('sim: node ' + h + ' has version ' + n.version + ', not one of ' + RELEASES.join(', '));
  }
  // One featureCompatibilityVersion for the whole set, like the one config (see VERSIONS below).
  if (S.fcv === undefined) {
    S.fcv = Object.keys(S.nodes).map((h) => S.nodes[h].version).sort(compareRelease)[0] || DEFAULT_VERSION;
  }
  if (S.fcvTarget === undefined) S.fcvTarget = null;
  if (S.fcvPrevious === undefined) S.fcvPrevious = null;
  startups();

  function save() {
    fs.writeFileSync(statePath, JSON.stringify(S, null, 1));
  }

  // ---- errors ----------------------------------------------------------------------
  const CODE_NAMES = {
    11: 'UserNotFound', 13: 'Unauthorized', 18: 'AuthenticationFailed', 23: 'AlreadyInitialized',
    74: 'NodeNotFound', 93: 'InvalidReplicaSetConfig', 94: 'NotYetInitialized',
    103: 'NewReplicaSetConfigurationIncompatible', 109: 'ConfigurationInProgress',
    110: 'CannotInitializeNodeWithData', 262: 'ExceededTimeLimit', 10107: 'NotWritablePrimary',
    51003: 'Location51003', 59: 'CommandNotFound', 2: 'BadValue',
    4926900: 'Location4926900', 7369100: 'Location7369100', 40415: 'Location40415',
  };
  function serverError(code, msg) {
    const e = new Error(msg);
    e.name = 'MongoServerError';
    e.code = code;
    e.codeName = CODE_NAMES[code] || ('Code' + code);
    e.ok = 0;
    return e;
  }
  function networkError(msg) {
    const e = new Error(msg);
    e.name = 'MongoNetworkError';
    return e;
  }
  function synthetic(fn) {
    let p;
    try {
      p = Promise.resolve(fn());
    } catch (e) {
      p = Promise.reject(e);
    }
    Object.defineProperty(p, SYNTHETIC, { value: true });
    return p;
  }

  // ObjectId stand-in: a replicaSetId that survives only if passed back unchanged.
  class SimObjectId {
    constructor(hex) { this.hex = hex; }
    toString() { return this.hex; }
    toJSON() { return this.hex; }
  }

  // ---- model -----------------------------------------------------------------------
  function cfgMember(host) {
    if (!S.config) return null;
    return S.config.members.find((m) => m.host === host) || null;
  }
  // VERSIONS. A node's binary release is n.version; the set's featureCompatibilityVersion
  // is S.fcv, with S.fcvTarget (and S.fcvPrevious when going down) while a change is in
  // transition (getParameter then answers {version, targetVersion[, previousVersion]},
  // FCVTransitions in mongodb/mongo feature_compatibility_version.cpp). A mongod whose data has an FCV its binary does not accept does not
  // start: real mongod logs "UPGRADE PROBLEM: Found an invalid featureCompatibilityVersion
  // document" and exits with code 62 (needDowngrade: feature_compatibility_version.cpp's
  // initializeForStartup, src/mongo/util/exit_code.h). Here such a running
  // node gets n.failedStart and is DOWN (every connection is refused) until its binary
  // changes (a test "rolls" it: a new n.version), when it starts again and is checked
  // anew. Only a node that holds the set's data (hasData, or in the config) is checked;
  // a fresh, empty mongod starts with its own binary's FCV. Simplification: one FCV for
  // the set, so a member that was down while it changed sees the new value when it
  // returns.
  function fcvValues() {
    return [S.fcv, S.fcvTarget, S.fcvPrevious].filter((v) => v);
  }
  function startups() {
    for (const h of Object.keys(S.nodes)) {
      const n = S.nodes[h];
      if (n.failedStart && n.failedStart.binary !== n.version) delete n.failedStart; // rolled: a new binary starts
      if (n.failedStart || !n.running || !(cfgMember(h) || (n.hasData && !n.removedFromSet))) continue;
      const ok = acceptedBy(n.version);
      const bad = fcvValues().filter((v) => ok.indexOf(v) < 0);
      if (bad.length === 0) continue;
      n.failedStart = {
        code: 62, binary: n.version, fcv: S.fcv, at: S.clock,
        message: 'UPGRADE PROBLEM: Found an invalid featureCompatibilityVersion document (ERROR: Location4926900: Invalid feature ' +
          "compatibility version value '" + bad[0] + "'; expected " + ok.map((v) => "'" + v + "'").join(' or ') + ').' +
          (compareRelease(bad[0], ok[0]) < 0 ? ' If the current featureCompatibilityVersion is below ' + ok[0] + ', see the documentation on upgrading' : ''),
      };
    }
  }
  // up: the node's mongod runs and answers (running, and it did not fail to start).
  function up(host) {
    const n = S.nodes[host];
    return Boolean(n && n.running && !n.failedStart);
  }
  function votesOf(m) { return m.votes === undefined ? 1 : m.votes; }
  function priorityOf(m) { return m.priority === undefined ? (m.arbiterOnly ? 0 : 1) : m.priority; }
  function isCountedVoter(m) { return votesOf(m) > 0 && !S.newlyAdded[m.host]; }
  function memberState(host) {
    const n = S.nodes[host];
    if (!up(host)) return 8;
    if (S.primary === host) return 1;
    if (S.newlyAdded[host] || n.syncDoneAt === null || n.syncDoneAt > S.clock) return 5;
    return 2;
  }
  function healthy(host) {
    const s = memberState(host);
    return s === 1 || s === 2;
  }
  function committed() {
    if (!S.config) return false;
    const voters = S.config.members.filter(isCountedVoter);
    let acked = 0;
    for (const m of voters) {
      if (m.host === S.primary) acked++;
      else if (healthy(m.host) && S.clock >= S.configWrittenAt + S.propagateDelayMs) acked++;
    }
    return acked * 2 > voters.length;
  }
  function writeConfig(cfg, why) {
    S.config = cfg;
    S.configWrittenAt = S.clock;
    S.configLog = S.configLog || [];
    S.configLog.push({ version: cfg.version, why: why, at: S.clock });
  }
  function advance(ms) {
    S.clock += ms;
    startups();
    if (!S.config) return;
    for (const m of S.config.members) {
      const n = S.nodes[m.host];
      if (n && up(m.host) && n.syncDoneAt === null) n.syncDoneAt = S.clock + S.syncDelayMs;
    }
    if (S.primary && !up(S.primary)) {
      S.primary = null;
      S.electionAt = S.clock + S.electionDelayMs;
    }
    if (S.primary) {
      // A primary that cannot see a majority of the voters steps down.
      const voters = S.config.members.filter(isCountedVoter);
      const alive = voters.filter((m) => up(m.host));
      if (alive.length * 2 <= voters.length) {
        S.primary = null;
        S.electionAt = S.clock + S.electionDelayMs;
        S.majorityLostStepDowns = (S.majorityLostStepDowns || 0) + 1;
      }
    }
    if (!S.primary && S.electionAt === null) S.electionAt = S.clock + S.electionDelayMs;
    if (!S.primary && S.electionAt !== null && S.clock >= S.electionAt) {
      const voters = S.config.members.filter(isCountedVoter);
      const alive = voters.filter((m) => up(m.host));
      const cands = alive.filter((m) => priorityOf(m) > 0 && !m.arbiterOnly &&
        memberState(m.host) === 2 && S.nodes[m.host].stepDownUntil <= S.clock);
      if (alive.length * 2 > voters.length && cands.length > 0) {
        cands.sort((a, b) => (priorityOf(b) - priorityOf(a)) || (a._id - b._id));
        S.primary = cands[0].host;
        S.term++;
        S.electionAt = null;
        S.elections = (S.elections || 0) + 1;
      } else {
        S.electionAt = S.clock + S.electionDelayMs;
      }
    }
    // Initial sync done: the member becomes SECONDARY and the primary drops newlyAdded
    // with an automatic reconfig.
    for (const m of S.config.members) {
      const n = S.nodes[m.host];
      if (n && up(m.host) && n.syncDoneAt !== null && n.syncDoneAt <= S.clock) {
        n.hasData = true;
        if (S.newlyAdded[m.host] && S.primary) {
          delete S.newlyAdded[m.host];
          const next = cloneConfig(S.config);
          next.version++;
          writeConfig(next, 'automatic: ' + m.host + ' finished initial sync');
        }
      }
    }
  }
  function cloneConfig(c) {
    const out = JSON.parse(JSON.stringify(c));
    return out;
  }
  function configForClient() {
    const c = cloneConfig(S.config);
    c.term = S.term;
    c.settings = c.settings || {};
    c.settings.replicaSetId = new SimObjectId(S.config.settings.replicaSetId);
    c.settings.electionTimeoutMillis = 10000;
    return c;
  }

  let writeCount = 0;
  function recordWrite(op, host, detail, extra) {
    writeCount++;
    S.writes.push(Object.assign({ run: S.runs, op: op, on: host, detail: detail, at: S.clock }, extra || {}));
    save();
    if (killAfter > 0 && writeCount >= killAfter) {
      print('[sim] killed after write ' + writeCount + ' (' + op + ' on ' + host + ')');
      S.killed = true;
      save();
      realQuit(137);
      throw networkError('sim: killed');
    }
  }

  // ---- config validation (both initiate and reconfig) ----------------------------------
  function validateConfig(cfg, action) {
    if (!cfg || typeof cfg !== 'object' || !Array.isArray(cfg.members)) {
      throw serverError(93, action + ': config must be an object with a members array');
    }
    if (cfg._id !== S.replSetName) {
      throw serverError(93, action + ': config _id ' + cfg._id + ' does not match --replSet ' + S.replSetName);
    }
    if (typeof cfg.version !== 'number' || cfg.version < 1) throw serverError(93, action + ': version must be a positive number');
    if (cfg.members.length < 1 || cfg.members.length > 50) throw serverError(93, action + ': 1 to 50 members required, got ' + cfg.members.length);
    const ids = {};
    const hosts = {};
    let voters = 0;
    let electable = 0;
    for (const m of cfg.members) {
      if (typeof m._id !== 'number' || m._id < 0 || Math.floor(m._id) !== m._id) throw serverError(93, action + ': member _id must be a non-negative integer');
      if (ids[m._id]) throw serverError(93, action + ': found two member configurations with same _id field, _id: ' + m._id);
      ids[m._id] = true;
      if (typeof m.host !== 'string' || !/^[^:]+:\d+$/.test(m.host)) throw serverError(93, action + ': member host must be host:port, got ' + m.host);
      if (hosts[m.host]) throw serverError(93, action + ': found two member configurations with same host field, host: ' + m.host);
      hosts[m.host] = true;
      if (m.newlyAdded !== undefined) throw serverError(93, action + ': the newlyAdded field cannot be set by a user (member ' + m.host + ')');
      const v = votesOf(m);
      if (v !== 0 && v !== 1) throw serverError(93, action + ': member ' + m.host + ' votes must be 0 or 1');
      const p = priorityOf(m);
      if (v === 0 && p !== 0) throw serverError(93, action + ': priority must be 0 when non-voting (votes:0), member ' + m.host);
      if (m.arbiterOnly && p !== 0) throw serverError(93, action + ': arbiters must have priority 0, member ' + m.host);
      if (v > 0) voters++;
      if (v > 0 && p > 0) electable++;
    }
    if (voters < 1 || voters > 7) throw serverError(93, action + ': replica set configuration contains ' + voters + ' voting members, but must be at least 1 and no more than 7');
    if (electable < 1) throw serverError(93, action + ': no electable member');
    const local = cfg.members.filter((m) => /^(localhost|127\.0\.0\.1):/.test(m.host));
    if (local.length > 0 && local.length !== cfg.members.length) {
      throw serverError(93, action + ': either all host names must be localhost references, or none must be');
    }
  }

  // ---- commands --------------------------------------------------------------------
  const OPEN_COMMANDS = { hello: 1, isMaster: 1, ismaster: 1, ping: 1, buildInfo: 1 };
  const LOCALHOST_EXCEPTION_COMMANDS = { replSetInitiate: 1, createUser: 1 };

  function requireAuth(conn, dbName, name) {
    if (OPEN_COMMANDS[name]) return;
    if (conn.user) {
      const u = S.users.find((x) => x.user === conn.user.user && x.db === conn.user.db);
      if (u && u.roles.some((r) => r.role === 'root' && r.db === 'admin')) return;
      throw serverError(13, 'not authorized on ' + dbName + ' to execute command { ' + name + ' }');
    }
    if (conn.isLocal && S.users.length === 0 && LOCALHOST_EXCEPTION_COMMANDS[name] &&
        (name !== 'createUser' || dbName === 'admin')) {
      S.localhostExceptionUses = (S.localhostExceptionUses || 0) + 1;
      return;
    }
    throw serverError(13, 'Command ' + name + ' requires authentication');
  }
  function requirePrimary(conn, name) {
    if (!S.config) throw serverError(94, 'no replset config has been received');
    if (S.primary !== conn.host) throw serverError(10107, name + ': not primary (' + conn.host + ' is ' + stateStr(memberState(conn.host)) + ')');
  }
  function stateStr(s) {
    return { 1: 'PRIMARY', 2: 'SECONDARY', 5: 'STARTUP2', 8: 'DOWN', 0: 'STARTUP' }[s] || String(s);
  }
  function inSet(host) {
    return Boolean(cfgMember(host));
  }

  function runCommand(conn, dbName, cmd) {
    const name = Object.keys(cmd)[0];
    S.commands[name] = (S.commands[name] || 0) + 1;
    advance(1);
    const node = S.nodes[conn.host];
    if (!up(conn.host)) throw networkError('connection to ' + conn.host + ' closed');
    requireAuth(conn, dbName, name);
    switch (name) {
      case 'hello': case 'isMaster': case 'ismaster': {
        const r = { ok: 1, me: conn.host, isWritablePrimary: false, secondary: false, maxWireVersion: 25 };
        if (!inSet(conn.host)) {
          r.isreplicaset = true;
          r.info = 'Does not have a valid replica set config';
          return r;
        }
        r.setName = S.replSetName;
        r.setVersion = S.config.version;
        r.hosts = S.config.members.filter((m) => priorityOf(m) > 0 && !m.arbiterOnly).map((m) => m.host);
        r.passives = S.config.members.filter((m) => priorityOf(m) === 0 && !m.arbiterOnly).map((m) => m.host);
        r.isWritablePrimary = S.primary === conn.host;
        r.secondary = memberState(conn.host) === 2;
        if (S.primary) r.primary = S.primary;
        return r;
      }
      case 'ping': return { ok: 1 };
      case 'buildInfo':
        // Needs no login (it is in OPEN_COMMANDS); version is "major.minor.patch" (the buildInfo reference page).
        return { ok: 1, version: node.version + '.0', versionArray: node.version.split('.').map(Number).concat([0, 0]) };
      case 'getParameter': {
        // Needs a login, as on a deployment with --auth; the one parameter modelled is the FCV.
        adminOnly(dbName, name);
        if (cmd.featureCompatibilityVersion === undefined || Object.keys(cmd).some((k) => k !== 'getParameter' && k !== 'featureCompatibilityVersion')) {
          throw serverError(2, 'sim: getParameter is only modelled for {getParameter: 1, featureCompatibilityVersion: 1}');
        }
        const f = { version: S.fcv };
        if (S.fcvTarget) f.targetVersion = S.fcvTarget;
        if (S.fcvPrevious) f.previousVersion = S.fcvPrevious;
        return { ok: 1, featureCompatibilityVersion: f };
      }
      case 'setFeatureCompatibilityVersion': return setFcv(conn, dbName, cmd);
      case 'replSetGetStatus': {
        if (!S.config) throw serverError(94, 'no replset config has been received');
        if (!inSet(conn.host)) throw serverError(93, 'Our replica set config is invalid or we are not a member of it');
        return {
          ok: 1, set: S.replSetName, term: S.term,
          members: S.config.members.map((m) => ({
            _id: m._id, name: m.host, state: memberState(m.host), stateStr: stateStr(memberState(m.host)),
            health: up(m.host) ? 1 : 0, self: m.host === conn.host,
          })),
        };
      }
      case 'replSetGetConfig': {
        if (!S.config) throw serverError(94, 'no replset config has been received');
        if (!inSet(conn.host)) throw serverError(93, 'Our replica set config is invalid or we are not a member of it');
        const r = { ok: 1, config: configForClient() };
        if (cmd.commitmentStatus) {
          if (S.primary !== conn.host) throw serverError(10107, 'commitmentStatus is only supported on the primary');
          r.commitmentStatus = committed();
        }
        return r;
      }
      case 'replSetInitiate': return initiate(conn, cmd.replSetInitiate);
      case 'replSetReconfig': return reconfig(conn, cmd);
      case 'replSetStepDown': return stepDown(conn, cmd);
      case 'usersInfo': {
        const q = cmd.usersInfo;
        const user = typeof q === 'string' ? q : q.user;
        const db = typeof q === 'string' ? dbName : q.db;
        return {
          ok: 1,
          users: S.users.filter((u) => u.user === user && u.db === db)
            .map((u) => ({ _id: u.db + '.' + u.user, user: u.user, db: u.db, roles: u.roles.map((r) => ({ role: r.role, db: r.db })), mechanisms: ['SCRAM-SHA-256'] })),
        };
      }
      case 'createUser': {
        requirePrimary(conn, name);
        checkUserDoc(cmd, name);
        if (S.users.some((u) => u.user === cmd.createUser && u.db === dbName)) {
          throw serverError(51003, 'User "' + cmd.createUser + '@' + dbName + '" already exists');
        }
        S.users.push({ user: cmd.createUser, db: dbName, pwd: cmd.pwd, roles: cmd.roles.map((r) => ({ role: r.role, db: r.db })) });
        recordWrite('createUser', conn.host, cmd.createUser + '@' + dbName);
        return { ok: 1 };
      }
      case 'updateUser': {
        requirePrimary(conn, name);
        const u = S.users.find((x) => x.user === cmd.updateUser && x.db === dbName);
        if (!u) throw serverError(11, 'User ' + cmd.updateUser + '@' + dbName + ' not found');
        if (cmd.pwd === undefined && cmd.roles === undefined) throw serverError(2, 'updateUser: nothing to update');
        const what = [];
        if (cmd.pwd !== undefined) {
          if (typeof cmd.pwd !== 'string' || !cmd.pwd) throw serverError(2, 'updateUser: pwd must be a non-empty string');
          u.pwd = cmd.pwd;
          what.push('pwd');
        }
        if (cmd.roles !== undefined) {
          checkRoles(cmd.roles);
          u.roles = cmd.roles.map((r) => ({ role: r.role, db: r.db }));
          what.push('roles');
        }
        recordWrite('updateUser', conn.host, u.user + '@' + dbName + ' ' + what.join('+'));
        return { ok: 1 };
      }
      default:
        throw serverError(59, 'no such command: \'' + name + '\' (the simulation does not implement it)');
    }
  }
  function adminOnly(dbName, name) {
    if (dbName !== 'admin') throw serverError(13, name + ' may only be run against the admin database.');
  }
  function fcvState() {
    if (!S.fcvTarget) return "'" + S.fcv + "'";
    return S.fcvPrevious ? "downgrading from '" + S.fcvPrevious + "' to '" + S.fcvTarget + "'" : "upgrading from '" + S.fcv + "' to '" + S.fcvTarget + "'";
  }
  // setFcv: setFeatureCompatibilityVersion (its reference page; docs/facts.md, Upgrades).
  // On the primary only (NotWritablePrimary, 10107, elsewhere), on admin only. The value
  // must be one the binary accepts, its release or the one before it (Location4926900:
  // the code real mongod gives that parse error at startup, used here for the command
  // too). From 7.0 on, confirm: true is required (Location7369100, "... Please re-run
  // this command with 'confirm: true' ..."; the rest of the wording is the simulation's);
  // before 7.0 the field does not exist (40415, unknown BSON field: an assumption of this
  // simulation, not from a source). (A running binary's own values are always one step
  // from the FCV it runs on, or either end of a change in transition, so the server's
  // "cannot set featureCompatibilityVersion to 'X' while ..." guard, 5147403, is not
  // reachable here and not modelled.) A change in transition is completed or undone by
  // the call. SIMULATION RULE, stricter than what is documented (the upgrade notes ask for every
  // member to be running; no wording was found that every member must run the new binary
  // first): refused with BadValue (2) unless every configured member, running or not,
  // has a binary that accepts the value. It is a write (recordWrite), applied at once (no
  // transition is left behind).
  function setFcv(conn, dbName, cmd) {
    const name = 'setFeatureCompatibilityVersion';
    adminOnly(dbName, name);
    requirePrimary(conn, name);
    const v = cmd.setFeatureCompatibilityVersion;
    const binary = S.nodes[conn.host].version;
    const accepted = acceptedBy(binary);
    if (typeof v !== 'string' || accepted.indexOf(v) < 0) {
      throw serverError(4926900, "Invalid feature compatibility version value '" + v + "'; expected " + accepted.map((a) => "'" + a + "'").join(' or '));
    }
    if (compareRelease(binary, '7.0') >= 0) {
      if (cmd.confirm !== true) {
        throw serverError(7369100, "Once you have set featureCompatibilityVersion to '" + v + "' you may not be able to go back without support assistance. " +
          "Please re-run this command with 'confirm: true' to acknowledge this and continue (simulation wording)");
      }
    } else if (cmd.confirm !== undefined) {
      throw serverError(40415, "BSON field 'setFeatureCompatibilityVersion.confirm' is an unknown field.");
    }
    if (cmd.writeConcern !== undefined && (typeof cmd.writeConcern !== 'object' || cmd.writeConcern === null)) {
      throw serverError(2, 'writeConcern must be an object');
    }
    const refusing = S.config.members.filter((m) => acceptedBy(S.nodes[m.host] ? S.nodes[m.host].version : DEFAULT_VERSION).indexOf(v) < 0);
    if (refusing.length > 0) {
      throw serverError(2, 'simulation rule: setFeatureCompatibilityVersion ' + v + ' is refused while ' +
        refusing.map((m) => m.host + ' runs ' + (S.nodes[m.host] ? S.nodes[m.host].version : DEFAULT_VERSION)).join(', ') +
        ' (every member must run a binary that accepts it)');
    }
    const before = fcvState();
    S.fcv = v;
    S.fcvTarget = null;
    S.fcvPrevious = null;
    recordWrite(name, conn.host, before + " -> '" + v + "'", {
      confirm: cmd.confirm === true, w: cmd.writeConcern && cmd.writeConcern.w !== undefined ? String(cmd.writeConcern.w) : '',
    });
    return { ok: 1 };
  }
  // MongoDB's built-in roles. The database roles exist on every database;
  // the others only on admin: granting {role: 'backup', db: 'rocketchat'}
  // fails on a real mongod with RoleNotFound (31), "Could not find role:
  // backup@rocketchat". The simulation has no user-defined roles.
  const DB_ROLES = ['read', 'readWrite', 'dbAdmin', 'dbOwner', 'userAdmin'];
  const ADMIN_ROLES = ['clusterAdmin', 'clusterManager', 'clusterMonitor', 'hostManager', 'backup', 'restore',
    'readAnyDatabase', 'readWriteAnyDatabase', 'userAdminAnyDatabase', 'dbAdminAnyDatabase', 'root', '__system',
    'directShardOperations', 'enableSharding', 'searchCoordinator'];
  function checkRoles(roles) {
    if (!Array.isArray(roles)) throw serverError(2, 'roles must be an array');
    for (const r of roles) {
      if (!r || typeof r.role !== 'string' || typeof r.db !== 'string') throw serverError(2, 'each role must be {role, db}');
      const known = DB_ROLES.includes(r.role) || (r.db === 'admin' && ADMIN_ROLES.includes(r.role));
      if (!known) throw serverError(31, 'Could not find role: ' + r.role + '@' + r.db);
    }
  }
  function checkUserDoc(cmd, name) {
    if (typeof cmd.pwd !== 'string' || !cmd.pwd) throw serverError(2, name + ': pwd must be a non-empty string');
    checkRoles(cmd.roles);
  }

  function initiate(conn, cfg) {
    if (S.config) throw serverError(23, 'already initialized');
    if (!cfg) throw serverError(93, 'replSetInitiate without a config records a container-local host name; the simulation requires a config');
    validateConfig(cfg, 'replSetInitiate');
    const self = cfg.members.find((m) => m.host === conn.host || (conn.isLocal && m.host === localAlias));
    if (!self) {
      throw serverError(74, 'No host described in new configuration with {version: ' + cfg.version + '} for replica set ' + S.replSetName + ' maps to this node');
    }
    for (const m of cfg.members) {
      if (m === self) continue;
      const n = S.nodes[m.host];
      if (!n || !up(m.host)) throw serverError(74, 'replSetInitiate quorum check failed because not all proposed set members responded affirmatively: ' + m.host);
      if (n.hasData) throw serverError(110, "'" + m.host + "' has data already, cannot initiate set.");
    }
    const c = JSON.parse(JSON.stringify(cfg));
    delete c.term;
    c.protocolVersion = 1;
    c.settings = { replicaSetId: 'sim' + Math.floor(S.clock).toString(16).padStart(21, '0') };
    S.term = 0;
    writeConfig(c, 'replSetInitiate');
    for (const m of c.members) {
      const n = S.nodes[m.host];
      n.syncDoneAt = m === self || m.host === self.host ? S.clock : null;
    }
    S.electionAt = S.clock + S.electionDelayMs;
    recordWrite('replSetInitiate', conn.host, 'version ' + c.version + ' members ' + c.members.map((m) => m.host).join(','));
    return { ok: 1 };
  }

  // checkCompatible: rules of every reconfig, forced or not: the replicaSetId is passed
  // back unchanged and no member keeps its _id with another host or its host with another _id.
  function checkCompatible(old, cfg) {
    if (cfg.settings && cfg.settings.replicaSetId !== undefined) {
      const id = cfg.settings.replicaSetId;
      if (!(id instanceof SimObjectId) || id.hex !== old.settings.replicaSetId) {
        throw serverError(103, 'New and old configurations differ in replica set ID (settings.replicaSetId must be passed back as the ObjectId it was)');
      }
    }
    for (const m of cfg.members) {
      const byId = old.members.find((o) => o._id === m._id);
      const byHost = old.members.find((o) => o.host === m.host);
      if (byId && byId.host !== m.host) throw serverError(103, 'New and old configurations both have members with _id of ' + m._id + ' but in the new configuration the host field is ' + m.host + ' and in the old configuration it is ' + byId.host);
      if (byHost && byHost._id !== m._id) throw serverError(103, 'New and old configurations both have members with host of ' + m.host + ' but in the new configuration the _id field is ' + m._id + ' and in the old configuration it is ' + byHost._id);
    }
  }
  function voterChanges(old, cfg) {
    const oldVoters = new Set(old.members.filter((m) => votesOf(m) > 0).map((m) => m.host));
    const newVoters = new Set(cfg.members.filter((m) => votesOf(m) > 0).map((m) => m.host));
    let changed = 0;
    for (const h of oldVoters) if (!newVoters.has(h)) changed++;
    for (const h of newVoters) if (!oldVoters.has(h)) changed++;
    return changed;
  }
  // installConfig writes the validated cfg (a copy) as the set's config and does the
  // bookkeeping of members that join (initial sync; newlyAdded unless forced) or leave.
  function installConfig(old, cfg, version, forced) {
    const c = JSON.parse(JSON.stringify(cfg));
    delete c.term;
    c.version = version;
    c.settings = old.settings;
    c.protocolVersion = 1;
    for (const m of c.members) {
      if (!old.members.some((o) => o.host === m.host)) {
        const n = S.nodes[m.host];
        if (!n) throw serverError(74, 'replSetReconfig: host ' + m.host + ' does not resolve (not a simulated node)');
        if (votesOf(m) > 0 && !forced) S.newlyAdded[m.host] = true;
        n.syncDoneAt = null;
      }
    }
    for (const o of old.members) {
      if (!c.members.some((m) => m.host === o.host)) {
        delete S.newlyAdded[o.host];
        const n = S.nodes[o.host];
        if (n) {
          n.syncDoneAt = null;
          n.removedFromSet = true;
        }
      }
    }
    writeConfig(c, forced ? 'replSetReconfig force' : 'replSetReconfig');
    return c;
  }

  // forcedReconfig: replSetReconfig with force: true.
  // What mongod does, as far as we know (the replication coordinator's reconfig path and
  // its config validation, MongoDB 4.4 to 7.0): a forced reconfig is accepted on any
  // member, the primary included; it skips the checks that the current config is
  // committed (109), that at most one voter changes and that this node is electable; the
  // config must still be valid (93), name this node (74), keep every member's _id/host
  // pairing and the replicaSetId (103); the server replaces the version with a much
  // larger one (the old version plus 10000 plus a random number below 100000).
  // SIMULATION RULE, stricter than mongod on purpose: a force on the primary, or on any
  // member while some member is primary, is refused with code 2 (BadValue). mongod has no
  // such rule and so no code for it; BadValue is our choice. The reconciler must force
  // only once the majority is lost and no member is primary.
  function forcedReconfig(conn, cmd) {
    const cfg = cmd.replSetReconfig;
    S.forcedReconfigs = (S.forcedReconfigs || 0) + 1;
    if (!S.config) throw serverError(94, 'no replset config has been received');
    if (!inSet(conn.host)) throw serverError(93, 'Our replica set config is invalid or we are not a member of it');
    if (S.primary === conn.host) {
      throw serverError(2, 'simulation rule: replSetReconfig with force: true is refused on the primary ' + conn.host +
        ' (force only on a member that is not primary, once the majority is lost)');
    }
    if (S.primary) {
      throw serverError(2, 'simulation rule: replSetReconfig with force: true is refused on ' + conn.host + ' while ' + S.primary + ' is primary');
    }
    validateConfig(cfg, 'replSetReconfig (force)');
    const old = S.config;
    checkCompatible(old, cfg);
    if (!cfg.members.some((m) => m.host === conn.host)) {
      throw serverError(74, 'No host described in new configuration with {version: ' + cfg.version + '} for replica set ' + S.replSetName + ' maps to this node');
    }
    const unhealthy = old.members.filter((m) => !healthy(m.host)).map((m) => m.host);
    const changed = voterChanges(old, cfg);
    const base = Math.max(old.version, typeof cfg.version === 'number' ? cfg.version : 0);
    const version = base + 10000 + ((S.forcedReconfigs * 7919 + Math.floor(S.clock)) % 10000);
    const c = installConfig(old, cfg, version, true);
    S.forcedReconfigsAccepted = (S.forcedReconfigsAccepted || 0) + 1;
    // The new config's voters hold an election (advance() runs it once it is due).
    S.electionAt = S.clock + S.electionDelayMs;
    recordWrite('replSetReconfig', conn.host, 'version ' + c.version + ' (forced)', {
      forced: true, unhealthyBefore: unhealthy, voterChanges: changed,
      members: c.members.map((m) => m.host + '/' + votesOf(m) + '/' + priorityOf(m)),
    });
    return { ok: 1 };
  }

  function reconfig(conn, cmd) {
    const cfg = cmd.replSetReconfig;
    if (cmd.force) return forcedReconfig(conn, cmd);
    requirePrimary(conn, 'replSetReconfig');
    if (!committed()) {
      throw serverError(109, 'Cannot run replSetReconfig because the current config: {version: ' + S.config.version + '} is not yet committed');
    }
    validateConfig(cfg, 'replSetReconfig');
    const old = S.config;
    if (cfg.version <= old.version) {
      throw serverError(103, 'replSetReconfig: new replica set configuration version ' + cfg.version + ' must be greater than the old version ' + old.version);
    }
    checkCompatible(old, cfg);
    const changed = voterChanges(old, cfg);
    if (changed > 1) {
      throw serverError(103, 'Non-force replica set reconfig can only add or remove at most 1 voting member (' + changed + ' changed)');
    }
    const me = cfg.members.find((m) => m.host === conn.host);
    if (!me || votesOf(me) === 0 || priorityOf(me) === 0) {
      throw serverError(103, 'This node, ' + conn.host + ', is not electable under the new configuration with {version: ' + cfg.version + '} for replica set ' + S.replSetName);
    }
    // For the tests: members of the old config that were not yet PRIMARY/SECONDARY.
    const unhealthy = old.members.filter((m) => !healthy(m.host)).map((m) => m.host);
    const c = installConfig(old, cfg, cfg.version, false);
    recordWrite('replSetReconfig', conn.host, 'version ' + c.version, {
      unhealthyBefore: unhealthy, voterChanges: changed,
      members: c.members.map((m) => m.host + '/' + votesOf(m) + '/' + priorityOf(m)),
    });
    return { ok: 1 };
  }

  function stepDown(conn, cmd) {
    requirePrimary(conn, 'replSetStepDown');
    const secs = Number(cmd.replSetStepDown) || 60;
    const catchUp = cmd.secondaryCatchUpPeriodSecs === undefined ? 10 : Number(cmd.secondaryCatchUpPeriodSecs);
    if (catchUp > secs) throw serverError(2, 'stepdown period must be longer than secondaryCatchUpPeriodSecs');
    const electable = S.config.members.filter((m) => m.host !== conn.host && isCountedVoter(m) &&
      priorityOf(m) > 0 && memberState(m.host) === 2);
    if (electable.length === 0) {
      advance(catchUp * 1000);
      throw serverError(262, 'No electable secondaries caught up as of ' + S.clock + '. Please use the replSetStepDown command with the argument {force: true} to force node to step down.');
    }
    S.nodes[conn.host].stepDownUntil = S.clock + secs * 1000;
    S.primary = null;
    S.electionAt = S.clock + S.electionDelayMs;
    recordWrite('replSetStepDown', conn.host, secs + 's');
    return { ok: 1 };
  }

  // ---- connections -----------------------------------------------------------------
  function resolve(uri) {
    let s = String(uri).replace(/^mongodb:\/\//, '');
    s = s.split('/')[0].split('?')[0];
    if (s.indexOf('@') >= 0) throw new Error('sim: credentials in the connection string are not allowed (they would show in ps and logs)');
    if (s.indexOf(',') >= 0) throw new Error('sim: the reconciler must connect to one member at a time');
    if (localAlias === s || /^(localhost|127\.0\.0\.1):/.test(s)) {
      if (s !== localAlias) throw networkError('connect ECONNREFUSED ' + s);
      return { host: localNode, isLocal: true };
    }
    if (!S.nodes[s]) throw networkError('getaddrinfo ENOTFOUND ' + s.split(':')[0]);
    return { host: s, isLocal: false };
  }
  function SimMongo(uri) {
    return synthetic(() => {
      S.connections = (S.connections || 0) + 1;
      advance(1);
      const target = resolve(uri);
      if (!up(target.host)) throw networkError('connect ECONNREFUSED ' + target.host);
      const conn = { host: target.host, isLocal: target.isLocal, user: null };
      return {
        getDB(name) {
          return {
            getName() { return name; },
            runCommand(cmd) { return synthetic(() => runCommand(conn, name, cmd)); },
            adminCommand(cmd) { return synthetic(() => runCommand(conn, 'admin', cmd)); },
            auth(user, pwd) {
              return synthetic(() => {
                S.commands.auth = (S.commands.auth || 0) + 1;
                advance(1);
                if (!up(conn.host)) throw networkError('connection to ' + conn.host + ' closed');
                if (typeof user === 'object') throw new Error('sim: use db.auth(user, pwd)');
                const u = S.users.find((x) => x.user === user && x.db === name);
                if (!u || u.pwd !== pwd || (!inSet(conn.host) && S.config)) {
                  throw serverError(18, 'Authentication failed.');
                }
                conn.user = { user: user, db: name };
                return { ok: 1 };
              });
            },
          };
        },
      };
    });
  }
  globalThis.Mongo = SimMongo;
  globalThis.sleep = function (ms) {
    return synthetic(() => {
      const n = Number(ms) || 0;
      S.sleptMs += n;
      S.runSleptMs += n;
      advance(n);
    });
  };
  globalThis.quit = function (code) {
    S.exitCode = code === undefined ? 0 : code;
    save();
    realQuit(code);
  };
  save();
})();
