#include "ctl/current_postfix.hpp"

#include <vector>

#include "common/command.hpp"
#include "common/text.hpp"

namespace sg {

namespace {

constexpr uint32_t kPostconfTimeoutMs = 10'000;

// One value a line, in the order asked; nothing when postconf failed.
std::optional<std::vector<std::string>> postconf_values(const std::string& command_dir,
                                                        const std::string& config_dir,
                                                        const char* flags,
                                                        const std::vector<std::string>& names,
                                                        std::string& error) {
  std::vector<std::string> args{flags};
  args.insert(args.end(), names.begin(), names.end());
  const auto argv = command::postfix_argv(command_dir, "postconf", config_dir, std::move(args));
  const auto r = command::run(argv, kPostconfTimeoutMs);
  if (!r.ok()) {
    error = command::describe(r, argv);
    return std::nullopt;
  }
  std::vector<std::string> out;
  std::string_view rest = r.out;
  while (out.size() < names.size()) {
    const auto nl = rest.find('\n');
    out.emplace_back(text::trim(rest.substr(0, nl)));
    if (nl == std::string_view::npos) break;
    rest.remove_prefix(nl + 1);
  }
  if (out.size() == names.size()) return out;
  error = command::describe(r, argv) + ": " + std::to_string(out.size()) + " values for " +
          std::to_string(names.size()) + " parameters";
  return std::nullopt;
}

}  // namespace

std::optional<CurrentPostfix> read_current_postfix(const std::string& command_dir,
                                                   const std::string& config_dir,
                                                   std::string& error) {
  // As written (a $parameter stays a reference), for the lists copied.
  const auto raw = postconf_values(
      command_dir, config_dir, "-h",
      {"smtpd_recipient_restrictions", "smtpd_end_of_data_restrictions", "smtp_header_checks"},
      error);
  if (!raw) return std::nullopt;
  // Expanded, for what is only looked at (the relay default depends on the
  // compatibility level).
  const auto expanded = postconf_values(command_dir, config_dir, "-xh",
                                        {"smtpd_relay_restrictions", "inet_interfaces"}, error);
  if (!expanded) return std::nullopt;
  CurrentPostfix now;
  now.recipient_restrictions = (*raw)[0];
  now.end_of_data_restrictions = (*raw)[1];
  now.smtp_header_checks = (*raw)[2];
  now.relay_restrictions = (*expanded)[0];
  now.inet_interfaces = (*expanded)[1];
  now.source = "postconf" + (config_dir.empty() ? std::string() : " -c " + config_dir);
  return now;
}

}  // namespace sg
