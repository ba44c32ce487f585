// Blocking work (postqueue/postsuper/postcat, libpq, the Listmonk reload
// call) runs on a small thread pool so the loop keeps serving /status and
// following the log; the coroutine resumes on the loop with the result.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>

#include "common/await.hpp"

namespace sg::rampd {

template <class T, class F>
boost::asio::awaitable<T> offload(boost::asio::thread_pool& pool, boost::asio::io_context& io,
                                  F work) {
  return await_callback<T>(
      [&pool, &io, work = std::move(work)](std::function<void(T)> done) mutable {
        boost::asio::post(pool, [&io, work = std::move(work), done = std::move(done)]() mutable {
          T value = work();
          boost::asio::post(io, [done = std::move(done), value = std::move(value)]() mutable {
            done(std::move(value));
          });
        });
      });
}

}  // namespace sg::rampd
