// Every Redis key name streamguard uses is built here, and nowhere else. Keys of
// one stream share the hash tag {stream} so one Lua call over them is legal on
// Redis Cluster.
#pragma once

#include <string>
#include <string_view>

namespace sg::keys {

// Hash of current caps, written by rampd, read by policyd (fields: see
// cap_field()).
std::string caps(std::string_view prefix, std::string_view stream);

// Smooth hourly rate (GCRA state), for the stream or one operator within it.
std::string hourly_rate(std::string_view prefix, std::string_view stream, std::string_view op = {});

// Exact count for one calendar day ("YYYYMMDD"), for the stream or one operator.
std::string daily_count(std::string_view prefix, std::string_view stream, std::string_view day,
                        std::string_view op = {});

// Reservations (commit at END-OF-MESSAGE): the stream's sorted set of open
// transaction instances, and one instance's record of what it charged.
std::string reservations(std::string_view prefix, std::string_view stream);
std::string reservation(std::string_view prefix, std::string_view stream,
                        std::string_view instance);
// What an accepted message charged, kept a while under its queue id after
// the commit at END-OF-MESSAGE: a milter may still refuse the message, and
// rampd then gives it back (store/lua/reservations.lua "refund").
std::string accepted(std::string_view prefix, std::string_view stream, std::string_view queue_id);
// The held messages rampd is releasing (sorted set of instances, scored by
// when the release began): each is settled by commit or cancel, after a
// restart too (store/lua/reservations.lua "release").
std::string releasing(std::string_view prefix, std::string_view stream);

// rampd's own records, kept without a TTL: the ramp state (day in force,
// step, when it stepped) and the send history (civil day "YYYYMMDD" -> the
// messages the stream sent that day, copied from daily_count() before that
// key expires).
std::string ramp_state(std::string_view prefix, std::string_view stream);
std::string sent_days(std::string_view prefix, std::string_view stream);

// Suppressed addresses and domains (rules/suppression.hpp). The whole set,
// `suppress` (hash: entry field "a:ADDRESS" / "d:DOMAIN" -> record), is the
// one streamguardctl and rampd keep; each stream has a copy in its own hash
// slot, `suppressed(stream)`, so the limiter script reads it in the same
// atomic call that charges the caps (Redis Cluster allows one slot per
// script). `suppress_expiry` orders the entries by when they end (sorted
// set: field scored by until_ms) so rampd removes ended ones everywhere;
// `suppress_domains` does the same for the domain entries alone (a few
// hundred dead domains beside a million addresses: counted and exported
// without reading the whole set).
std::string suppress_all(std::string_view prefix);
std::string suppress_expiry(std::string_view prefix);
std::string suppress_domains(std::string_view prefix);
std::string suppressed(std::string_view prefix, std::string_view stream);

// The one streamguard-rampd allowed to work on this Redis (store/lease.hpp):
// a string holding its holder's id, with an expiry.
std::string rampd_lease(std::string_view prefix);

// Field names in the caps hash: "hourly", "daily", "op:<name>:hourly", "op:<name>:daily".
std::string cap_field(std::string_view window, std::string_view op = {});

}  // namespace sg::keys
