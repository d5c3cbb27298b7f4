-- Core of Broadcast's side: tenants, their AgentBuddy connections, the synced entities and the
-- sync bookkeeping. Portable SQL (see integration/storage/sql.py): TEXT timestamps in ISO-8601 UTC with Z
-- and microseconds, JSON as TEXT, booleans as INTEGER 0/1. Every table carries organization_id
-- and every query filters by it.

-- Broadcast tenants (an agency, a team, an agent).
CREATE TABLE organizations (
    organization_id TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    created_at      TEXT NOT NULL
);

-- One AgentBuddy connection per organization. Secrets are Fernet tokens (integration/agentbuddy/secrets.py).
CREATE TABLE connections (
    organization_id    TEXT PRIMARY KEY REFERENCES organizations (organization_id),
    agentbuddy_url     TEXT NOT NULL,
    account_id         TEXT,
    account_name       TEXT,
    agent_id           TEXT,
    client_id          TEXT NOT NULL,
    scopes             TEXT NOT NULL DEFAULT '',
    status             TEXT NOT NULL CHECK (status IN ('active', 'needs_reauth', 'disconnected')),
    access_token_enc   TEXT,
    refresh_token_enc  TEXT,
    token_expires_at   TEXT,
    webhook_secret_enc TEXT,
    subscription_id    TEXT,
    connected_at       TEXT NOT NULL,
    updated_at         TEXT NOT NULL,
    last_error         TEXT
);
CREATE INDEX connections_account ON connections (agentbuddy_url, account_id);

-- Connect attempts between the redirect to AgentBuddy and the callback, found by `state`.
CREATE TABLE oauth_pending (
    state              TEXT PRIMARY KEY,
    organization_id    TEXT NOT NULL REFERENCES organizations (organization_id),
    code_verifier_enc  TEXT NOT NULL,
    redirect_uri       TEXT NOT NULL,
    created_at         TEXT NOT NULL,
    expires_at         TEXT NOT NULL
);

CREATE TABLE offices (
    organization_id  TEXT NOT NULL REFERENCES organizations (organization_id),
    id               TEXT NOT NULL,
    name             TEXT,
    address_street   TEXT,
    address_city     TEXT,
    address_state    TEXT,
    address_zip      TEXT,
    phone            TEXT,
    email            TEXT,
    parent_office_id TEXT,
    ab_created_at    TEXT,
    ab_updated_at    TEXT NOT NULL,
    deleted_at       TEXT,
    synced_at        TEXT NOT NULL,
    PRIMARY KEY (organization_id, id)
);

CREATE TABLE agents (
    organization_id TEXT NOT NULL REFERENCES organizations (organization_id),
    id              TEXT NOT NULL,
    email           TEXT,
    first_name      TEXT,
    last_name       TEXT,
    office_id       TEXT,
    role            TEXT,
    phone           TEXT,
    avatar_url      TEXT,
    is_active       INTEGER,
    ab_created_at   TEXT,
    ab_updated_at   TEXT NOT NULL,
    deleted_at      TEXT,
    synced_at       TEXT NOT NULL,
    PRIMARY KEY (organization_id, id)
);

-- Contacts mix AgentBuddy-owned fields (demographics, consent) with Broadcast-owned ones
-- (email_status, local_tags) and last-write-wins fields (status); see docs/sync.md.
CREATE TABLE contacts (
    organization_id         TEXT NOT NULL REFERENCES organizations (organization_id),
    id                      TEXT NOT NULL,
    email                   TEXT,
    first_name              TEXT,
    last_name               TEXT,
    phone                   TEXT,
    contact_type            TEXT,
    office_id               TEXT,
    agent_id                TEXT,
    address_street          TEXT,
    address_city            TEXT,
    address_state           TEXT,
    address_zip             TEXT,
    property_ids            TEXT NOT NULL DEFAULT '[]',
    custom_fields           TEXT NOT NULL DEFAULT '{}',
    email_opt_in            INTEGER NOT NULL DEFAULT 0,
    -- tags = ab_tags ∪ local_tags (AgentBuddy order first), recomputed on every write.
    ab_tags                 TEXT NOT NULL DEFAULT '[]',
    local_tags              TEXT NOT NULL DEFAULT '[]',
    tags                    TEXT NOT NULL DEFAULT '[]',
    -- status: last write wins between AgentBuddy and Broadcast users.
    status                  TEXT,
    ab_status               TEXT,
    status_updated_at       TEXT,
    status_source           TEXT,
    -- Broadcast-owned: set by email events, never by a sync.
    email_status            TEXT NOT NULL DEFAULT 'subscribed'
                            CHECK (email_status IN ('subscribed', 'unsubscribed', 'bounced', 'complained')),
    email_status_updated_at TEXT,
    local_updated_at        TEXT,
    ab_created_at           TEXT,
    ab_updated_at           TEXT NOT NULL,
    deleted_at              TEXT,
    synced_at               TEXT NOT NULL,
    PRIMARY KEY (organization_id, id)
);
CREATE INDEX contacts_email ON contacts (organization_id, email);
CREATE INDEX contacts_agent ON contacts (organization_id, agent_id);

CREATE TABLE properties (
    organization_id  TEXT NOT NULL REFERENCES organizations (organization_id),
    id               TEXT NOT NULL,
    address_street   TEXT,
    address_city     TEXT,
    address_state    TEXT,
    address_zip      TEXT,
    property_type    TEXT,
    bedrooms         INTEGER,
    bathrooms        DOUBLE PRECISION,
    square_feet      INTEGER,
    estimated_value  DOUBLE PRECISION,
    owner_contact_id TEXT,
    listing_status   TEXT,
    last_sale_date   TEXT,
    last_sale_price  DOUBLE PRECISION,
    ab_created_at    TEXT,
    ab_updated_at    TEXT NOT NULL,
    deleted_at       TEXT,
    synced_at        TEXT NOT NULL,
    PRIMARY KEY (organization_id, id)
);
CREATE INDEX properties_owner ON properties (organization_id, owner_contact_id);

-- Per organization and entity: the high-water mark (updated_at, id) of the last completed run,
-- and, while a run is in progress, its cursor and the updated_since it started from, so a
-- killed run resumes from its last committed page.
CREATE TABLE sync_state (
    organization_id   TEXT NOT NULL REFERENCES organizations (organization_id),
    entity            TEXT NOT NULL,
    hwm_updated_at    TEXT,
    hwm_id            TEXT,
    run_id            TEXT,
    run_since         TEXT,
    run_cursor        TEXT,
    run_hwm_updated_at TEXT,
    run_hwm_id        TEXT,
    run_started_at    TEXT,
    last_run_at       TEXT,
    last_success_at   TEXT,
    last_error        TEXT,
    -- set by a change notification that arrived while a sync held the lease: run again.
    requested_at      TEXT,
    PRIMARY KEY (organization_id, entity)
);

-- One sync at a time per organization, across processes: a lease renewed at every checkpoint.
CREATE TABLE sync_leases (
    organization_id TEXT PRIMARY KEY REFERENCES organizations (organization_id),
    owner           TEXT NOT NULL,
    expires_at      TEXT NOT NULL
);

CREATE TABLE sync_runs (
    organization_id TEXT NOT NULL REFERENCES organizations (organization_id),
    run_id          TEXT NOT NULL,
    kind            TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('running', 'succeeded', 'failed')),
    started_at      TEXT NOT NULL,
    finished_at     TEXT,
    summary         TEXT,
    error           TEXT,
    PRIMARY KEY (organization_id, run_id)
);

-- Records that failed validation; a record that later validates is removed from here.
-- payload never contains private (x-private) fields.
CREATE TABLE quarantine (
    organization_id TEXT NOT NULL REFERENCES organizations (organization_id),
    entity          TEXT NOT NULL,
    record_id       TEXT NOT NULL,
    reason          TEXT NOT NULL,
    payload         TEXT NOT NULL,
    first_seen      TEXT NOT NULL,
    last_seen       TEXT NOT NULL,
    occurrences     INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (organization_id, entity, record_id)
);
