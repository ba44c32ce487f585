// What the demo prints, kept apart from what it does (demo.cpp): headings,
// one line per recipient with the outcome a person reads (delivered, held
// and why, refused and why), and text wrapped to a terminal's width.
#pragma once

#include <string>
#include <vector>

#include "tests/e2e/e2e_harness.hpp"

namespace sg::demo {

// "== TITLE" and the explanation under it, wrapped.
void heading(const std::string& title, const std::string& explanation = "");
// Text wrapped at 78 columns, each line indented.
void say(const std::string& text, int indent = 3);

// What became of one recipient of a submitted message.
struct Outcome {
  std::string address;
  std::string state;   // "delivered", "held", "refused", "bounced", "in the queue"
  std::string reason;  // the reply or log text that says why ("" when delivered)
};

// Reads the outcome of every recipient of `s` from the SMTP replies, the
// hold queue (with policyd's HOLD reason from the Postfix log) and the sink.
std::vector<Outcome> outcomes(sg::e2e::Harness& h, const sg::e2e::Submission& s);
// One line per recipient: address, state, and the reason wrapped below.
void print(const std::vector<Outcome>& rows, const std::string& note = "");

// The text after Postfix's "Recipient address rejected: " (or the whole
// reply), without the "<address>: " Postfix puts first.
std::string reason_of(const std::string& reply);

}  // namespace sg::demo
