-- Engagement pipeline: what Broadcast sent, what the email provider reported back, what we
-- derived from it (activity, 5.2 metrics, 5.3 scores) and what still has to reach AgentBuddy.
-- Portable subset (see integration/storage/sql.py): TEXT timestamps (fixed-width UTC), TEXT JSON,
-- INTEGER booleans, qmark placeholders. Every row carries organization_id.

-- A campaign as Broadcast knows it; names travel with every event (5.1 campaign_name), the
-- kind tag (market_update, listing, ...) feeds the content signals of section 6.
CREATE TABLE campaigns (
    organization_id TEXT NOT NULL,
    id TEXT NOT NULL,
    name TEXT NOT NULL,
    kind TEXT,
    created_at TEXT NOT NULL,
    PRIMARY KEY (organization_id, id)
);

-- One email handed to the provider: the provider's email id is how a provider webhook finds
-- the AgentBuddy contact it is about.
CREATE TABLE sends (
    organization_id TEXT NOT NULL,
    provider_email_id TEXT NOT NULL,
    campaign_id TEXT NOT NULL,
    contact_id TEXT NOT NULL,
    email TEXT NOT NULL,
    sent_at TEXT NOT NULL,
    PRIMARY KEY (organization_id, provider_email_id)
);
CREATE INDEX sends_by_provider_id ON sends (provider_email_id);
CREATE INDEX sends_by_contact ON sends (organization_id, contact_id);

-- Every provider event we accepted, mapped or not. provider_event_key makes a redelivered
-- or replayed provider event a no-op; event_type is the 5.1 name or 'unmapped'.
CREATE TABLE engagement_events (
    id TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL,
    provider TEXT NOT NULL,
    provider_event_key TEXT NOT NULL,
    provider_type TEXT NOT NULL,
    event_type TEXT NOT NULL,
    contact_id TEXT,
    campaign_id TEXT,
    provider_email_id TEXT,
    occurred_at TEXT NOT NULL,
    received_at TEXT NOT NULL,
    machine INTEGER NOT NULL DEFAULT 0,
    machine_reason TEXT,
    metadata TEXT NOT NULL DEFAULT '{}',
    raw TEXT NOT NULL,
    UNIQUE (organization_id, provider, provider_event_key)
);
CREATE INDEX engagement_events_by_contact ON engagement_events (organization_id, contact_id, occurred_at);

-- Svix/Standard Webhooks message ids already accepted: a provider retry is answered 200 and
-- changes nothing.
CREATE TABLE provider_webhooks_seen (
    organization_id TEXT NOT NULL,
    provider TEXT NOT NULL,
    message_id TEXT NOT NULL,
    received_at TEXT NOT NULL,
    PRIMARY KEY (organization_id, provider, message_id)
);

-- The per-contact running state (integration.engagement.activity.ContactActivity as JSON):
-- the daily re-score reads these instead of replaying every event.
CREATE TABLE contact_activity (
    organization_id TEXT NOT NULL,
    contact_id TEXT NOT NULL,
    state TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (organization_id, contact_id)
);

-- 5.2 aggregate metrics, as last delivered to / computed for AgentBuddy.
CREATE TABLE contact_metrics (
    organization_id TEXT NOT NULL,
    contact_id TEXT NOT NULL,
    total_emails_sent INTEGER NOT NULL DEFAULT 0,
    total_opens INTEGER NOT NULL DEFAULT 0,
    total_clicks INTEGER NOT NULL DEFAULT 0,
    open_rate DOUBLE PRECISION NOT NULL DEFAULT 0,
    click_rate DOUBLE PRECISION NOT NULL DEFAULT 0,
    last_email_sent_at TEXT,
    last_opened_at TEXT,
    last_clicked_at TEXT,
    engagement_trend TEXT NOT NULL DEFAULT 'inactive',
    computed_at TEXT NOT NULL,
    PRIMARY KEY (organization_id, contact_id)
);

-- 5.3 propensity, the latest per contact.
CREATE TABLE contact_scores (
    organization_id TEXT NOT NULL,
    contact_id TEXT NOT NULL,
    propensity_score INTEGER NOT NULL,
    propensity_category TEXT NOT NULL,
    seller_likelihood INTEGER,
    buyer_activity_score INTEGER,
    recommended_action TEXT NOT NULL,
    contributing_factors TEXT NOT NULL DEFAULT '[]',
    score_updated_at TEXT NOT NULL,
    PRIMARY KEY (organization_id, contact_id)
);

-- score_history (every score change, for timelines) has a generated key, which each database
-- spells its own way: revision 0002 creates it with SQLAlchemy, which knows both spellings.

-- Per-account averages the base score compares a contact against (5.3 "vs. average").
CREATE TABLE account_baselines (
    organization_id TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    computed_at TEXT NOT NULL
);

-- Transactional outbox: written in the same transaction as the change it announces, drained
-- by integration.outbox.delivery. id is the Standard Webhooks `webhook-id` / Idempotency-Key and
-- never changes across retries. status: pending -> delivering (leased) -> delivered | dead.
-- merged_into: an event message folded into a batch message travels (and settles) with it.
CREATE TABLE outbox (
    id TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL,
    connection_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    contact_id TEXT,
    payload TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    last_status INTEGER,
    last_error TEXT,
    created_at TEXT NOT NULL,
    delivered_at TEXT,
    lease_owner TEXT,
    lease_expires_at TEXT,
    merged_into TEXT,
    CHECK (kind IN ('event', 'propensity', 'batch')),
    CHECK (status IN ('pending', 'delivering', 'delivered', 'dead'))
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
CREATE INDEX outbox_by_contact ON outbox (organization_id, contact_id, kind, status);
CREATE INDEX outbox_merged ON outbox (merged_into);
