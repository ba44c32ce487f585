#include "recipient/recipient_check.hpp"

#include <functional>

#include "common/await.hpp"
#include "common/text.hpp"
#include "rules/suppression.hpp"

namespace sg {
namespace {

// The part after the last '@', lowercased, for logging an address that
// recipient_domain() could not normalise.
std::string raw_domain(std::string_view rcpt) {
  auto at = rcpt.rfind('@');
  return text::lower(at == std::string_view::npos ? std::string_view{} : rcpt.substr(at + 1));
}

// What the MX answer changes: the operator, and a refusal when it puts the
// domain on a list the stream excludes, or the lookup failed and on_failure
// says so.
std::optional<Verdict> apply_mx(const Runtime& rt, const StreamConfig& s, RecipientCheck& c,
                                const MxResult& r, bool cached) {
  if (r.kind == MxResult::Kind::failure) {
    c.op_by = "mx-failed";
    const Action on_failure = rt.config->dns.on_failure;
    if (on_failure != Action::dunno) return decide_dns_failure(s, on_failure, c.domain, r.error);
  } else if (r.kind == MxResult::Kind::mx) {
    c.op = rt.mx_operators.operator_for(r.hosts);
    if (!c.op.empty()) {
      c.op_by = cached ? "mx-cache" : "mx";
      if (auto it = rt.operator_list.find(c.op); it != rt.operator_list.end()) {
        Classification by_mx;
        // Name the host: the domain alone does not say why it is Yahoo's.
        by_mx.domain = c.domain + " (its MX " + r.hosts.front() + " is " + c.op + "'s)";
        by_mx.lists = {it->second};
        return decide_exclusion(s, by_mx);
      }
    }
  }
  return std::nullopt;
}

}  // namespace

boost::asio::awaitable<RecipientCheck> check_recipient(const Runtime& rt, const StreamConfig& s,
                                                       std::string recipient, MxLookup* mx) {
  RecipientCheck out;
  const auto domain = recipient_domain(recipient);
  out.domain = domain ? *domain : raw_domain(recipient);
  const auto c = rt.classifier.classify(out.domain);
  out.op = c.op;
  if (!c.op.empty()) out.op_by = "static";
  if ((out.verdict = decide_exclusion(s, c))) co_return out;

  if (c.op.empty() && domain && mx && rt.needs_mx(s)) {
    using Answer = std::pair<MxResult, bool>;
    auto looking = await_callback<Answer>([mx, d = out.domain](std::function<void(Answer)> done) {
      mx->find(
          d, [done = std::move(done)](const MxResult& r, bool cached) { done(Answer(r, cached)); });
    });
    Answer a = co_await std::move(looking);
    if ((out.verdict = apply_mx(rt, s, out, a.first, a.second))) co_return out;
  }
  out.plan = plan_limits(s, out.op);
  out.plan.require_kept = rt.config->redis.expect_rampd;
  if (domain) out.plan.suppress_fields = suppression::fields_for(recipient, *domain);
  co_return out;
}

}  // namespace sg
