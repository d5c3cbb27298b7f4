"""The seeded world: what AgentBuddy's CRM holds, as plain data.

Flow: `builder.build_world` draws the accounts, offices, agents, contacts and properties from the
seed (`vocabulary` is the data they are drawn from); each entity type of an account is a
`collection.Collection` kept in sweep order; `connections` are the (OAuth client, account) pairs
with their webhook secrets and subscriptions; `mutations` changes records afterwards (admin
edits), and `churn` makes random seeded changes through it.

May import: `common`, `contract` and `..config`; never Flask, nor any other part of the fake —
the web layers (`oauth`, `api`, `inbound`, `admin`, `pages`) read and change the world, not the
other way round. A change is announced through the state's notifier, which the world sees only
as an object with `announce(change)`.
"""
