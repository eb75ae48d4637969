//! auth-redis against a real `redis-server` (started by `auth_redis::testing::RedisServer`).

mod support;

mod fencing;
