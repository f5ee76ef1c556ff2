//! What notification-svc does, one module per use:
//!
//! - [`steps`] — the order's steps, written as intents in the consumer's
//!   unit of work;
//! - [`sending`] — claiming due messages, handing them to their provider
//!   and recording each answer;
//! - [`templates`], [`preferences`] — what admins and customers manage;
//! - [`direct`] — one message by hand;
//! - [`bulk`] — one template to many;
//! - [`reads`] — the delivery log.

pub mod bulk;
pub mod direct;
pub mod preferences;
pub mod reads;
pub mod sending;
pub mod steps;
pub mod templates;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use foodmesh_shared::clock::Clock;
use sqlx::PgPool;
use tokio::sync::Notify;

use crate::domain::channel::Channel;
use crate::domain::message::Backoff;
use crate::providers::Providers;

/// How messages are sent.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub backoff: Backoff,
    /// How long a sender may hold a claimed message before another takes
    /// it for interrupted.
    pub lease: Duration,
    /// Messages per second each channel's provider is given at most.
    pub rate: ChannelRates,
    /// Messages claimed at once by one sender.
    pub batch: u32,
    /// Where customers' links point (`https://foodmesh.example`).
    pub public_url: String,
}

/// A figure per channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChannelRates {
    pub email: u32,
    pub sms: u32,
    pub push: u32,
}

impl ChannelRates {
    pub fn of(&self, channel: Channel) -> u32 {
        match channel {
            Channel::Email => self.email,
            Channel::Sms => self.sms,
            Channel::Push => self.push,
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            backoff: Backoff {
                base: Duration::from_secs(2),
                cap: Duration::from_secs(300),
                max_attempts: 6,
            },
            lease: Duration::from_secs(120),
            rate: ChannelRates {
                email: 50,
                sms: 10,
                push: 200,
            },
            batch: 64,
            public_url: "http://localhost:8000".to_owned(),
        }
    }
}

/// The service: its database, its providers, its settings, and a bell
/// per channel that wakes that channel's sender.
#[derive(Debug, Clone)]
pub struct Notifications {
    pool: PgPool,
    providers: Providers,
    settings: Arc<Settings>,
    clock: Clock,
    bells: Arc<[Notify; 3]>,
}

impl Notifications {
    pub fn new(pool: PgPool, providers: Providers, settings: Settings, clock: Clock) -> Self {
        Self {
            pool,
            providers,
            settings: Arc::new(settings),
            clock,
            bells: Arc::new([Notify::new(), Notify::new(), Notify::new()]),
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    pub fn providers(&self) -> &Providers {
        &self.providers
    }

    /// What `channel`'s sender waits on.
    pub fn bell(&self, channel: Channel) -> &Notify {
        &self.bells[bell_index(channel)]
    }

    /// Wakes the senders of `channels`: messages are due.
    fn ring(bells: &[Notify; 3], channels: impl IntoIterator<Item = Channel>) {
        for channel in channels {
            bells[bell_index(channel)].notify_one();
        }
    }
}

fn bell_index(channel: Channel) -> usize {
    match channel {
        Channel::Email => 0,
        Channel::Sms => 1,
        Channel::Push => 2,
    }
}
