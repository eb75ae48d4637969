//! auth-redis against a real `redis-server` (started by `auth_redis::testing::RedisServer`):
//! no mock stands in for Redis.

mod support;

mod adapters;
mod expiry_and_sealing;
mod failures;
mod fencing;
mod lease;
