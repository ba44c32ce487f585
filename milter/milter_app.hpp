// streamguard-milter's whole program, callable from tests: run_milter(argc, argv).
#pragma once

namespace sg {

int run_milter(int argc, char** argv);

}  // namespace sg
