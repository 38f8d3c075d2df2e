//! A redis-server of the test's own on a free port (`server::scratch::ScratchRedis`).

pub use server::scratch::ScratchRedis as RedisServer;
