// Redis calls from C++20 coroutines on the Asio loop (the coroutine rule:
// common/await.hpp).
//
// RedisClient and LuaScript are callback-based; await_callback() turns one
// callback call into an awaitable. CapLimiter (policyd's charges, rampd's
// releases) builds on it, and rampd's rounds read Redis through call()/cmd().
#pragma once

#include <utility>  // before Boost 1.74's awaitable.hpp, which uses std::exchange

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/await.hpp"
#include "store/lua_script.hpp"
#include "store/redis_client.hpp"

namespace sg {

// A redisReply copied out of hiredis's buffer (which is freed after the callback).
struct Reply {
  enum class Type { nil, integer, string, status, array, error, failed } type = Type::nil;
  int64_t integer = 0;
  std::string str;  // string, status, error; for `failed`, why the call never got a reply
  std::vector<Reply> elements;

  bool ok() const { return type != Type::error && type != Type::failed; }
  // The error text of an error reply or a failed call ("" when ok()).
  std::string error() const { return ok() ? std::string() : str; }
};

Reply copy_reply(const redisReply* r, std::string_view error);

namespace redis_reply {
// A whole decimal integer ("12", "-3"); nothing for anything else.
std::optional<int64_t> to_int(std::string_view s);
// HGETALL's flat array -> (field, value) pairs.
std::vector<std::pair<std::string, std::string>> pairs(const Reply& r);
}  // namespace redis_reply

boost::asio::awaitable<Reply> call(RedisClient& redis, std::vector<std::string> argv);
// call(redis, "HGET", key, field): the arguments become the command. (A
// braced list inside a co_await expression trips GCC 12's coroutine support,
// "array used as initializer": build vectors before co_await, or use this.)
template <class... A>
boost::asio::awaitable<Reply> cmd(RedisClient& redis, A... a) {  // by value: literals decay
  return call(redis, std::vector<std::string>{std::string(a)...});
}

boost::asio::awaitable<Reply> call(LuaScript& script, std::vector<std::string> keys,
                                   std::vector<std::string> args);

}  // namespace sg
