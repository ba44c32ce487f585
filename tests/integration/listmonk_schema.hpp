// Listmonk's subscriber tables as its schema.sql makes them (the columns
// streamguard touches, and others it must leave alone), for the tests that
// run against a real PostgreSQL.
#pragma once

namespace sg::testing {

inline constexpr const char* kListmonkSubscribersSql =
    "CREATE TYPE subscriber_status AS ENUM ('enabled', 'disabled', 'blocklisted');"
    "CREATE TYPE subscription_status AS ENUM ('unconfirmed', 'confirmed', 'unsubscribed');"
    "CREATE TABLE lists (id SERIAL PRIMARY KEY, name TEXT NOT NULL);"
    "CREATE TABLE subscribers (id SERIAL PRIMARY KEY, email TEXT NOT NULL UNIQUE,"
    " name TEXT NOT NULL DEFAULT '', attribs JSONB NOT NULL DEFAULT '{}',"
    " status subscriber_status NOT NULL DEFAULT 'enabled',"
    " created_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),"
    " updated_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW());"
    "CREATE UNIQUE INDEX idx_subs_email ON subscribers(LOWER(email));"
    "CREATE TABLE subscriber_lists (subscriber_id INTEGER NOT NULL REFERENCES subscribers(id)"
    " ON DELETE CASCADE, list_id INTEGER NOT NULL REFERENCES lists(id) ON DELETE CASCADE,"
    " status subscription_status NOT NULL DEFAULT 'unconfirmed',"
    " created_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),"
    " updated_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),"
    " PRIMARY KEY (subscriber_id, list_id));"
    "INSERT INTO lists (name) VALUES ('practices');";

}  // namespace sg::testing
