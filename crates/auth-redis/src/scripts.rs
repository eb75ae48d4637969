//! The Lua scripts: each check-then-act on the lease or the session runs in Redis as one step,
//! so nothing can come between the check and the act.

use std::sync::LazyLock;

use redis::Script;

/// Takes the lease: `SET lock token NX PX lease`, made safe to send twice (a reply lost with a
/// connection): a lock that already holds this token is ours, and is renewed. KEYS: lock;
/// ARGV: token, lease (ms). 1: ours; 0: another holder's.
pub(crate) static LOCK: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"local holder = redis.call('GET', KEYS[1])
          if holder == ARGV[1] then
            redis.call('PEXPIRE', KEYS[1], ARGV[2])
            return 1
          end
          if holder then
            return 0
          end
          redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2])
          return 1",
    )
});

/// Keeps the lease alive while it is ours. KEYS: lock; ARGV: token, lease (ms).
/// 1: renewed; 0: the lock is gone or another holder's (our lease is lost).
pub(crate) static RENEW: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"if redis.call('GET', KEYS[1]) == ARGV[1] then
            return redis.call('PEXPIRE', KEYS[1], ARGV[2])
          end
          return 0",
    )
});

/// Releases the lease only if it is still ours (compare-and-delete): a holder whose lease ran
/// out never deletes the next holder's lock. KEYS: lock; ARGV: token. 1: released; 0: not ours.
pub(crate) static RELEASE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"if redis.call('GET', KEYS[1]) == ARGV[1] then
            return redis.call('DEL', KEYS[1])
          end
          return 0",
    )
});

/// The fenced write. KEYS: session, lock; ARGV: token, expected version, value, expiry (Unix
/// ms).
///
/// Refused (-1) unless the stored version (0 when there is no session) is the one this holder
/// loaded or last wrote: that compare-and-set is the fence, and it holds even when the lock key
/// was lost (a failover, an eviction). Refused (-2) when the lock is another holder's (a second
/// guard; an absent lock is not refused, the version decides). Otherwise writes the value with
/// the next version, sets the session's expiry and returns the new version.
///
/// Safe to send twice: when the write already landed (its reply was lost with a connection),
/// the stored version is the next one and the stored value is this very one (a sealed value
/// has a random nonce, so no other write has the same bytes), and its version is returned.
pub(crate) static SAVE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"local version = tonumber(redis.call('HGET', KEYS[1], 'version') or '0')
          local expected = tonumber(ARGV[2])
          if version ~= expected then
            if version == expected + 1 and redis.call('HGET', KEYS[1], 'value') == ARGV[3] then
              return version
            end
            return -1
          end
          local holder = redis.call('GET', KEYS[2])
          if holder and holder ~= ARGV[1] then
            return -2
          end
          local next = version + 1
          redis.call('HSET', KEYS[1], 'version', string.format('%d', next), 'value', ARGV[3])
          redis.call('PEXPIREAT', KEYS[1], ARGV[4])
          return next",
    )
});

/// What [`SAVE`] answers when the lock is another holder's.
pub(crate) const REFUSED_LOCK: i64 = -2;
