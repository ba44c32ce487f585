// Callbacks into C++20 coroutines on the Asio loop.
//
// One rule for every coroutine in streamguard: never co_await an expression
// that makes temporaries; name the awaitable first, then co_await
// std::move(it). GCC 12 destroys the temporaries of a co_await
// full-expression twice (a double free, seen with lambdas, strings and
// vectors passed by value).
//
// Redis (store/), the MX lookup (recipient/) and work sent to a thread pool
// (rampd) answer through callbacks; await_callback() turns one callback call
// into an awaitable.
#pragma once

#include <utility>  // before Boost 1.74's awaitable.hpp, which uses std::exchange

#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <functional>
#include <memory>

namespace sg {

// Suspends the coroutine until `start` calls the completion it is given,
// once, on the loop thread; resumes with that value.
template <class T, class Start>
boost::asio::awaitable<T> await_callback(Start start) {
  return boost::asio::async_initiate<decltype(boost::asio::use_awaitable), void(T)>(
      [start = std::move(start)](auto handler) mutable {
        auto h = std::make_shared<decltype(handler)>(std::move(handler));
        start(std::function<void(T)>([h](T value) { std::move (*h)(std::move(value)); }));
      },
      boost::asio::use_awaitable);
}

}  // namespace sg
