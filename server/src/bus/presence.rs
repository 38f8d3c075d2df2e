//! Who is online, and how many in each room, across nodes (kept in Redis).
//!
//! - `hearth:user:{user}`: a sorted set of the nodes where the user has a connection, each
//!   scored with when that entry expires. Someone online on two nodes stays online until both
//!   let go.
//! - `hearth:room:{room}`: a hash, user → on how many nodes they are subscribed to the room;
//!   its length is the room's online count.
//! - `hearth:node:{node}:users` and `hearth:node:{node}:rooms`: what each node put there, so
//!   that whoever finds the node dead can take it out.
//! - `hearth:nodes`: a sorted set of nodes, scored with when each must next be heard from.
//!
//! Every node renews its entries every third of their lifetime (`--presence-ttl-ms`, 30 s);
//! an entry not renewed in time is dead, and the node that first notices a dead node (a `SET NX` guards it) takes its users and
//! counts out and announces who went offline. Each change is one Lua script, run atomically
//! on Redis' own clock (nodes' clocks may differ). The scripts touch keys they compute, which
//! a single Redis (not Redis Cluster) allows.

use std::time::Duration;

use redis::Script;
use redis::aio::ConnectionManager;

/// What every script starts with: Redis' clock in milliseconds, and the rooms whose counts a
/// script changed (`join` and `drop` change one; `counts` appends room, count for each);
/// `away` takes a node out of a user's entry and says on how many nodes they remain.
const PRELUDE: &str = "local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local touched, order = {}, {}
local function touch(room)
    if not touched[room] then
        touched[room] = true
        order[#order + 1] = room
    end
end
local function join(room, user)
    redis.call('HINCRBY', 'hearth:room:' .. room, user, 1)
    touch(room)
end
local function drop(room, user)
    if redis.call('HINCRBY', 'hearth:room:' .. room, user, -1) <= 0 then
        redis.call('HDEL', 'hearth:room:' .. room, user)
    end
    touch(room)
end
local function away(user, node)
    local key = 'hearth:user:' .. user
    redis.call('ZREM', key, node)
    redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
    return redis.call('ZCARD', key)
end
local function counts(out)
    for _, room in ipairs(order) do
        out[#out + 1] = tonumber(room)
        out[#out + 1] = redis.call('HLEN', 'hearth:room:' .. room)
    end
    return out
end
";

pub struct Presence {
    redis: ConnectionManager,
    node: u64,
    /// How long an entry lives unless renewed.
    ttl: Duration,
    arrive: Script,
    leave: Script,
    online_among: Script,
    rooms: Script,
    renew: Script,
    reap: Script,
}

/// What taking a dead node out changed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Reaped {
    /// Users who were online only there.
    pub offline: Vec<i64>,
    /// Rooms whose count changed, with their counts now.
    pub counts: Vec<(i64, u32)>,
}

type Result<T> = redis::RedisResult<T>;

impl Presence {
    pub fn new(redis: ConnectionManager, node: u64, ttl: Duration) -> Self {
        let script = |body: &str| Script::new(&format!("{PRELUDE}{body}"));
        Presence {
            redis,
            node,
            ttl,
            // ARGV: node, user, ttl ms. Returns on how many nodes the user is online now.
            arrive: script(
                "local key = 'hearth:user:' .. ARGV[2]
                 redis.call('ZADD', key, now + ARGV[3], ARGV[1])
                 redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
                 redis.call('SADD', 'hearth:node:' .. ARGV[1] .. ':users', ARGV[2])
                 redis.call('ZADD', 'hearth:nodes', now + ARGV[3], ARGV[1])
                 return redis.call('ZCARD', key)",
            ),
            // ARGV: node, user. Returns on how many nodes the user is still online.
            leave: script(
                "redis.call('SREM', 'hearth:node:' .. ARGV[1] .. ':users', ARGV[2])
                 return away(ARGV[2], ARGV[1])",
            ),
            // ARGV: users. Returns 1 or 0 for each.
            online_among: script(
                "local out = {}
                 for i, user in ipairs(ARGV) do
                     out[i] = redis.call('ZCOUNT', 'hearth:user:' .. user, now, '+inf') > 0
                         and 1 or 0
                 end
                 return out",
            ),
            // ARGV: node, then room, user, 1 or 0 (online there or not) for each change.
            // The node's own set makes each change count once, however often it is said (a
            // node says all of its again after Redis lost them). Returns room, count for each
            // room touched.
            rooms: script(
                "local mine = 'hearth:node:' .. ARGV[1] .. ':rooms'
                 for i = 2, #ARGV, 3 do
                     local room, user = ARGV[i], ARGV[i + 1]
                     if ARGV[i + 2] == '1' then
                         if redis.call('SADD', mine, room .. ':' .. user) == 1 then
                             join(room, user)
                         end
                     elseif redis.call('SREM', mine, room .. ':' .. user) == 1 then
                         drop(room, user)
                     end
                     touch(room)
                 end
                 return counts({})",
            ),
            // ARGV: node, ttl ms, then the node's users. Returns the dead nodes.
            renew: script(
                "redis.call('ZADD', 'hearth:nodes', now + ARGV[2], ARGV[1])
                 local mine = 'hearth:node:' .. ARGV[1] .. ':users'
                 for i = 3, #ARGV do
                     redis.call('ZADD', 'hearth:user:' .. ARGV[i], now + ARGV[2], ARGV[1])
                     redis.call('SADD', mine, ARGV[i])
                 end
                 return redis.call('ZRANGEBYSCORE', 'hearth:nodes', '-inf', now)",
            ),
            // ARGV: the dead node, the reaping node. Returns the number of users gone
            // offline, those users, then room, count pairs.
            reap: script(
                "local dead = ARGV[1]
                 if not redis.call('SET', 'hearth:reaping:' .. dead, ARGV[2], 'NX', 'PX', 60000)
                 then
                     return {0}
                 end
                 local offline = {}
                 for _, user in ipairs(redis.call('SMEMBERS', 'hearth:node:' .. dead .. ':users')) do
                     if away(user, dead) == 0 then
                         offline[#offline + 1] = tonumber(user)
                     end
                 end
                 for _, pair in ipairs(redis.call('SMEMBERS', 'hearth:node:' .. dead .. ':rooms')) do
                     local room, user = string.match(pair, '(%d+):(%d+)')
                     if room then
                         drop(room, user)
                     end
                 end
                 redis.call('DEL', 'hearth:node:' .. dead .. ':users',
                            'hearth:node:' .. dead .. ':rooms')
                 redis.call('ZREM', 'hearth:nodes', dead)
                 local out = {#offline}
                 for _, user in ipairs(offline) do
                     out[#out + 1] = user
                 end
                 return counts(out)",
            ),
        }
    }

    fn ttl_ms(&self) -> u64 {
        self.ttl.as_millis() as u64
    }

    /// `user` has a first connection on this node: whether they came online (were on no
    /// other node).
    pub async fn arrive(&self, user: i64) -> Result<bool> {
        let nodes: i64 = self
            .arrive
            .arg(self.node)
            .arg(user)
            .arg(self.ttl_ms())
            .invoke_async(&mut self.redis.clone())
            .await?;
        Ok(nodes == 1)
    }

    /// `user`'s last connection on this node closed: whether they went offline (are on no
    /// other node).
    pub async fn leave(&self, user: i64) -> Result<bool> {
        let nodes: i64 = self
            .leave
            .arg(self.node)
            .arg(user)
            .invoke_async(&mut self.redis.clone())
            .await?;
        Ok(nodes == 0)
    }

    /// Which of `users` are online on some node.
    pub async fn online_among(&self, users: &[i64]) -> Result<Vec<i64>> {
        if users.is_empty() {
            return Ok(Vec::new());
        }
        let flags: Vec<i64> = self
            .online_among
            .arg(users)
            .invoke_async(&mut self.redis.clone())
            .await?;
        Ok(users
            .iter()
            .zip(flags)
            .filter(|(_, online)| *online == 1)
            .map(|(user, _)| *user)
            .collect())
    }

    /// Records who came online or went offline in which room here; returns the counts now of
    /// the rooms touched.
    pub async fn rooms_changed(&self, changes: &[(i64, i64, bool)]) -> Result<Vec<(i64, u32)>> {
        if changes.is_empty() {
            return Ok(Vec::new());
        }
        let mut invocation = self.rooms.arg(self.node);
        for &(room, user, online) in changes {
            invocation.arg(room).arg(user).arg(u8::from(online));
        }
        let flat: Vec<i64> = invocation.invoke_async(&mut self.redis.clone()).await?;
        Ok(pairs(&flat))
    }

    /// How many are online in each of `rooms`, on any node.
    pub async fn counts(&self, rooms: &[i64]) -> Result<Vec<u32>> {
        if rooms.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for room in rooms {
            pipe.hlen(format!("hearth:room:{room}"));
        }
        pipe.query_async(&mut self.redis.clone()).await
    }

    /// Renews this node's entries (it is alive, and so are its users); returns the nodes
    /// found dead.
    pub async fn renew(&self, users: &[i64]) -> Result<Vec<u64>> {
        self.renew
            .arg(self.node)
            .arg(self.ttl_ms())
            .arg(users)
            .invoke_async(&mut self.redis.clone())
            .await
    }

    /// Takes a dead node's users and counts out, unless another node is doing it.
    pub async fn reap(&self, dead: u64) -> Result<Reaped> {
        let flat: Vec<i64> = self
            .reap
            .arg(dead)
            .arg(self.node)
            .invoke_async(&mut self.redis.clone())
            .await?;
        let offline_count = flat.first().copied().unwrap_or(0).max(0) as usize;
        let offline = flat.iter().skip(1).take(offline_count).copied().collect();
        let counts = pairs(flat.get(1 + offline_count..).unwrap_or_default());
        Ok(Reaped { offline, counts })
    }
}

/// `[room, count, room, count, …]` as pairs.
fn pairs(flat: &[i64]) -> Vec<(i64, u32)> {
    flat.chunks_exact(2)
        .map(|pair| (pair[0], pair[1].clamp(0, u32::MAX as i64) as u32))
        .collect()
}
