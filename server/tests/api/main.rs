//! Integration tests: each starts the real server on port 0 with its own SQLite file and drives
//! it with real WebSocket clients. One test binary for all, so the (large) server is linked once.

mod auth;
mod bad_input;
mod bots;
mod cluster;
mod cluster_presence;
mod crash;
mod delivery;
mod direct_messages;
mod edits;
mod feedback;
mod history;
mod hostile;
mod limits;
mod mentions;
mod moderation;
mod names;
mod operations;
mod pages;
mod policy;
mod presence;
mod private_rooms;
mod review;
mod rooms;
mod search;
mod sessions;
mod slow_clients;
mod support;
mod typing;
