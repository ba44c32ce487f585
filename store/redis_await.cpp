#include "store/redis_await.hpp"

#include <hiredis/hiredis.h>

#include <charconv>

namespace sg {

namespace redis_reply {

std::optional<int64_t> to_int(std::string_view s) {
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

std::vector<std::pair<std::string, std::string>> pairs(const Reply& r) {
  std::vector<std::pair<std::string, std::string>> out;
  for (std::size_t i = 0; i + 1 < r.elements.size(); i += 2)
    out.emplace_back(r.elements[i].str, r.elements[i + 1].str);
  return out;
}

}  // namespace redis_reply

Reply copy_reply(const redisReply* r, std::string_view error) {
  Reply out;
  if (!r) {
    out.type = Reply::Type::failed;
    out.str = error.empty() ? std::string("no reply") : std::string(error);
    return out;
  }
  switch (r->type) {
    case REDIS_REPLY_INTEGER:
      out.type = Reply::Type::integer;
      out.integer = r->integer;
      break;
    case REDIS_REPLY_STRING:
      out.type = Reply::Type::string;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_STATUS:
      out.type = Reply::Type::status;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_ERROR:
      out.type = Reply::Type::error;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_ARRAY:
      out.type = Reply::Type::array;
      out.elements.reserve(r->elements);
      for (std::size_t i = 0; i < r->elements; ++i)
        out.elements.push_back(copy_reply(r->element[i], {}));
      break;
    default:
      out.type = Reply::Type::nil;
  }
  return out;
}

// Not coroutines themselves: they hand back the awaitable of the
// initiation, which owns the arguments (GCC 12 mishandled the captures of a
// lambda made inside a coroutine frame here: a double free).
boost::asio::awaitable<Reply> call(RedisClient& redis, std::vector<std::string> argv) {
  return await_callback<Reply>([&redis, argv = std::move(argv)](std::function<void(Reply)> done) {
    std::vector<std::string_view> views(argv.begin(), argv.end());
    redis.command(views, [done = std::move(done)](const redisReply* r, std::string_view err) {
      done(copy_reply(r, err));
    });
  });
}

boost::asio::awaitable<Reply> call(LuaScript& script, std::vector<std::string> keys,
                                   std::vector<std::string> args) {
  return await_callback<Reply>([&script, keys = std::move(keys),
                                args = std::move(args)](std::function<void(Reply)> done) mutable {
    script.call(std::move(keys), std::move(args),
                [done = std::move(done)](const redisReply* r, std::string_view err) {
                  done(copy_reply(r, err));
                });
  });
}

}  // namespace sg
