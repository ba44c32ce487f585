#include "store/sentinel_lookup.hpp"

#include <hiredis/hiredis.h>

#include <algorithm>
#include <boost/asio/post.hpp>

#include "common/redis_url.hpp"
#include "store/redis_client.hpp"

namespace sg {

namespace asio = boost::asio;

SentinelLookup::SentinelLookup(asio::io_context& io, std::vector<Endpoint>& sentinels,
                               std::string master_name, std::chrono::milliseconds deadline,
                               Done done)
    : io_(io),
      sentinels_(sentinels),
      master_name_(std::move(master_name)),
      deadline_(deadline),
      done_(std::move(done)) {}

SentinelLookup::~SentinelLookup() {
  *alive_ = false;
}

void SentinelLookup::start() {
  ask(0);
}

void SentinelLookup::ask(std::size_t i) {
  if (i >= sentinels_.size()) {
    finish(std::nullopt);
    return;
  }
  // A plain connection of its own per question: a sentinel is asked once
  // per lookup, and lookups happen only when the master's link is down.
  RedisUrl url;
  url.endpoint = sentinels_[i];
  probe_ = std::make_unique<RedisClient>(io_, RedisClientOptions{url, deadline_});
  probe_->start();
  probe_->command({"SENTINEL", "get-master-addr-by-name", master_name_},
                  [this, i, alive = alive_](const redisReply* r, std::string_view err) {
                    if (*alive) answered(i, r, err);
                  });
}

void SentinelLookup::answered(std::size_t i, const redisReply* r, std::string_view err) {
  const std::string who = "sentinel " + redis_node(sentinels_[i]);
  std::optional<Found> found;
  std::string said;
  if (!r) {
    said = std::string(err);
  } else if (r->type == REDIS_REPLY_NIL) {
    said = "does not know a master named '" + master_name_ + "'";
  } else if (r->type == REDIS_REPLY_ERROR) {
    said = std::string(r->str, r->len);
  } else if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
             r->element[0]->type == REDIS_REPLY_STRING &&
             r->element[1]->type == REDIS_REPLY_STRING) {
    const std::string host(r->element[0]->str, r->element[0]->len);
    const std::string port(r->element[1]->str, r->element[1]->len);
    const bool v6 = host.find(':') != std::string::npos;
    std::string error;
    auto ep = parse_endpoint("inet:" + (v6 ? "[" + host + "]" : host) + ":" + port, error);
    if (ep)
      found = Found{*ep, sentinels_[i]};
    else
      said = "named the master at an address streamguard cannot use: " + error;
  } else {
    said = "gave an answer that is not an address";
  }
  if (!found) why_ += (why_.empty() ? "" : "; ") + who + ": " + said;
  // Leave the probe's own call stack before dropping it.
  asio::post(io_, [this, i, found, alive = alive_] {
    if (!*alive) return;
    probe_.reset();
    if (!found) {
      ask(i + 1);
      return;
    }
    std::rotate(sentinels_.begin(), sentinels_.begin() + static_cast<std::ptrdiff_t>(i),
                sentinels_.begin() + static_cast<std::ptrdiff_t>(i) + 1);
    finish(found);
  });
}

void SentinelLookup::finish(std::optional<Found> found) {
  // Posted with the callback moved out, so the caller may destroy the lookup
  // from inside it.
  asio::post(io_, [done = std::move(done_), found = std::move(found), why = std::move(why_),
                   alive = alive_] {
    if (*alive) done(found, found ? std::string() : "no sentinel named the master (" + why + ")");
  });
}

}  // namespace sg
