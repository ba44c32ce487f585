// The whole daemon behind main(): options, config, listeners, signals.
#pragma once

namespace sg {

int run_policyd(int argc, char** argv);

}  // namespace sg
