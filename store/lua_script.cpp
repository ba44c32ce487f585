#include "store/lua_script.hpp"

#include <hiredis/hiredis.h>

#include <memory>

namespace sg {

void LuaScript::load() {
  redis_.command({"SCRIPT", "LOAD", text_}, [this](const redisReply* r, std::string_view) {
    if (r && r->type == REDIS_REPLY_STRING) sha_.assign(r->str, r->len);
  });
}

void LuaScript::call(std::vector<std::string> keys, std::vector<std::string> args,
                     RedisClient::Callback cb) {
  auto argv = std::make_shared<std::vector<std::string>>();
  argv->reserve(3 + keys.size() + args.size());
  argv->emplace_back();  // EVALSHA or EVAL, chosen in send()
  argv->emplace_back();  // the sha or the script
  argv->push_back(std::to_string(keys.size()));
  for (auto& k : keys) argv->push_back(std::move(k));
  for (auto& a : args) argv->push_back(std::move(a));
  send(std::move(argv), std::move(cb), false);
}

void LuaScript::send(std::shared_ptr<std::vector<std::string>> argv, RedisClient::Callback cb,
                     bool retried) {
  bool by_sha = !sha_.empty() && !retried;
  (*argv)[0] = by_sha ? "EVALSHA" : "EVAL";
  (*argv)[1] = by_sha ? sha_ : text_;
  // argv stays alive for a NOSCRIPT retry; hiredis copies the command when it is sent.
  std::vector<std::string_view> views(argv->begin(), argv->end());
  redis_.command(views, [this, argv, cb = std::move(cb), by_sha](const redisReply* r,
                                                                 std::string_view err) mutable {
    if (err.empty() && by_sha && r->type == REDIS_REPLY_ERROR &&
        std::string_view(r->str, r->len).starts_with("NOSCRIPT"))
      return send(std::move(argv), std::move(cb), true);
    cb(r, err);
  });
}

}  // namespace sg
