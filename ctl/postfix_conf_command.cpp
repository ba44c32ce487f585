#include "ctl/postfix_conf_command.hpp"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>

#include "common/config.hpp"
#include "ctl/current_postfix.hpp"
#include "ctl/postfix_apply.hpp"
#include "ctl/postfix_conf.hpp"
#include "rules/classifier.hpp"

namespace sg {
namespace {

bool write_file(const std::filesystem::path& path, const std::string& text) {
  const auto tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    out.flush();
    if (!out) {
      std::cerr << "streamguardctl: cannot write " << tmp << ": " << std::strerror(errno) << "\n";
      return false;
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::cerr << "streamguardctl: cannot write " << path.string() << ": " << ec.message() << "\n";
    std::filesystem::remove(tmp, ec);
    return false;
  }
  return true;
}

// What main.cf has now: postconf's answer, or Postfix's defaults.
std::optional<CurrentPostfix> current_postfix(const Config& cfg, const PostfixConfOptions& o) {
  if (o.without_postfix) return CurrentPostfix{};
  std::string error;
  auto now = read_current_postfix(cfg.rampd.postfix_command_dir,
                                  o.postfix_config.value_or(cfg.rampd.postfix_config_dir), error);
  if (!now)
    std::cerr << "streamguardctl: cannot read the current Postfix settings: " << error
              << "\n(--postfix-config DIR names the Postfix configuration; --without-postfix "
                 "renders for a stock Postfix)\n";
  return now;
}

}  // namespace

int run_postfix_conf(const PostfixConfOptions& o) {
  const std::string& config_path = *o.config;
  const std::optional<std::string>& out_dir = o.out;
  auto loaded = load_config(config_path);
  if (!loaded.config) {
    for (const auto& e : loaded.errors) std::cerr << e.to_string() << "\n";
    return 1;
  }
  const Config& cfg = *loaded.config;

  std::map<std::string, DomainList> lists;
  std::vector<ListError> list_errors;
  for (const auto& name : backstop_lists(cfg))
    lists.emplace(name, DomainList::load(cfg.lists.at(name), list_errors));
  if (!list_errors.empty()) {
    for (const auto& e : list_errors) std::cerr << e.to_string() << "\n";
    return 1;
  }

  const auto now = current_postfix(cfg, o);
  if (!now) return 1;
  const auto conf = render_postfix_conf(cfg, lists, *now);
  for (const auto& w : conf.warnings) std::cerr << "streamguardctl: warning: " << w << "\n";
  for (const auto& e : conf.errors) std::cerr << "streamguardctl: " << e << "\n";
  if (!conf.errors.empty()) return 1;
  if (!o.action.empty()) {
    const ApplyTarget target{o.postfix_config.value_or(cfg.rampd.postfix_config_dir.empty()
                                                           ? std::string("/etc/postfix")
                                                           : cfg.rampd.postfix_config_dir),
                             cfg.rampd.postfix_command_dir};
    if (o.action == "--diff") return postfix_diff(cfg, conf, target);
    if (o.action == "--apply") return postfix_apply(cfg, conf, target);
    return postfix_rollback(cfg, conf, target);
  }

  std::vector<std::pair<std::string, const std::string*>> files = {
      {"main.cf.fragment", &conf.main_cf}, {"master.cf.fragment", &conf.master_cf}};
  for (const auto& m : conf.maps) files.emplace_back(m.file, &m.text);

  if (!out_dir) {
    for (const auto& [name, text] : files)
      std::cout << "#### streamguardctl: " << name << " ####\n" << *text << "\n";
    return 0;
  }
  std::error_code ec;
  std::filesystem::create_directories(*out_dir, ec);
  if (ec) {
    std::cerr << "streamguardctl: cannot create " << *out_dir << ": " << ec.message() << "\n";
    return 1;
  }
  for (const auto& [name, text] : files) {
    const auto path = std::filesystem::path(*out_dir) / name;
    if (!write_file(path, *text)) return 1;
    std::cout << "wrote " << path.string() << "\n";
  }
  std::cout << "next: add main.cf.fragment to main.cf and the services of master.cf.fragment "
               "to master.cf, install ";
  for (std::size_t i = 0; i < conf.maps.size(); ++i)
    std::cout << (i == 0 ? "" : " and ") << conf.maps[i].file;
  std::cout << " in " << cfg.postfix.backstop_dir << ", then `postfix reload`\n";
  return 0;
}

std::string parse_postfix_conf_args(const std::vector<std::string>& args, PostfixConfOptions& o) {
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&](std::optional<std::string>& slot) {
      if (i + 1 >= args.size() || args[i + 1].empty()) return false;
      slot = args[++i];
      return true;
    };
    if (a == "--config") {
      if (o.config || !value(o.config)) return "--config needs one FILE";
    } else if (a == "--out") {
      if (o.out || !value(o.out)) return "--out needs one DIR";
    } else if (a == "--postfix-config") {
      if (o.postfix_config || !value(o.postfix_config)) return "--postfix-config needs one DIR";
    } else if (a == "--without-postfix") {
      o.without_postfix = true;
    } else if (a == "--diff" || a == "--apply" || a == "--rollback") {
      if (!o.action.empty()) return "give one of --diff, --apply and --rollback";
      o.action = a;
    } else {
      return "unknown option '" + a + "'";
    }
  }
  if (!o.config) return "postfix-conf needs --config FILE";
  if (o.postfix_config && o.without_postfix)
    return "give --postfix-config or --without-postfix, not both";
  if (!o.action.empty() && (o.without_postfix || o.out))
    return o.action + " works on the installed Postfix: not with --without-postfix or --out";
  return "";
}

}  // namespace sg
