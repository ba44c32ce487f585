#pragma once

namespace sg::rampd {

// streamguard-rampd's main(): options, config, the loop and its timers.
int run_rampd(int argc, char** argv);

}  // namespace sg::rampd
