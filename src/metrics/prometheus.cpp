// gnet::to_prometheus — the Prometheus text exposition format, version 0.0.4:
//   # HELP <name> <text>
//   # TYPE <name> counter|gauge|histogram
//   <name>{loop="<i>"} <value>
// One family per LoopMetrics field, one sample per loop. The values are integers, and the
// histogram's bounds and sum are written as exact decimals (no rounding through a double).
#include <charconv>
#include <string>
#include <string_view>

#include "gnet/metrics.hpp"

namespace gnet {
namespace {

void append_uint(std::string& out, std::uint64_t v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  (void)ec;
  out.append(buf, end);
}

// units / 10^digits as a decimal without trailing zeros: (1, 6) -> "0.000001", (1500, 6) -> "0.0015".
void append_decimal(std::string& out, std::uint64_t units, int digits) {
  std::uint64_t scale = 1;
  for (int i = 0; i < digits; ++i) scale *= 10;
  append_uint(out, units / scale);
  std::uint64_t frac = units % scale;
  if (frac == 0) return;
  char buf[24];
  for (int i = digits - 1; i >= 0; --i, frac /= 10) buf[i] = static_cast<char>('0' + frac % 10);
  int len = digits;
  while (len > 0 && buf[len - 1] == '0') --len;
  out += '.';
  out.append(buf, static_cast<std::size_t>(len));
}

void append_header(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
  out += "# HELP ";
  out += name;
  out += ' ';
  out += help;
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
}

void append_labels(std::string& out, int loop) {
  out += "{loop=\"";
  append_uint(out, static_cast<std::uint64_t>(loop));
  out += '"';
}

struct Family {
  std::string_view name;
  std::string_view type;
  std::string_view help;
  std::uint64_t LoopMetrics::*field;
};

constexpr Family kFamilies[] = {
    {"gnet_connections_open", "gauge", "Connections open on the loop now.", &LoopMetrics::open_connections},
    {"gnet_connections_accepted_total", "counter", "Connections the loop took from a listener.",
     &LoopMetrics::accepted},
    {"gnet_connections_dialed_total", "counter",
     "Connections the loop opened outwards (dial) or was given (Client::enroll).", &LoopMetrics::dialed},
    {"gnet_connections_closed_total", "counter", "Connections closed, whatever the reason.", &LoopMetrics::closed},
    {"gnet_connections_closed_error_total", "counter",
     "Connections whose on_close got an error (reset, handler exception, timeout, limit).",
     &LoopMetrics::closed_with_error},
    {"gnet_bytes_in_total", "counter", "Bytes received from the kernel (TLS: ciphertext).", &LoopMetrics::bytes_in},
    {"gnet_bytes_out_total", "counter", "Bytes the kernel accepted for sending (TLS: ciphertext).",
     &LoopMetrics::bytes_out},
    {"gnet_messages_in_total", "counter", "on_traffic calls that brought the handler input.",
     &LoopMetrics::messages_in},
    {"gnet_messages_out_total", "counter", "write() and writev() calls accepted (async ones included).",
     &LoopMetrics::messages_out},
    {"gnet_queued_output_bytes", "gauge", "Bytes written but not yet taken by the kernel.",
     &LoopMetrics::queued_output_bytes},
    {"gnet_connections_paused", "gauge", "Connections whose reading is paused (by the handler or by backpressure).",
     &LoopMetrics::paused_connections},
    {"gnet_emfile_episodes_total", "counter",
     "Times accepting paused for lack of descriptors or kernel memory (EMFILE, ENFILE, ENOBUFS, ENOMEM).",
     &LoopMetrics::emfile_episodes},
    {"gnet_tasks_run_total", "counter", "Posted tasks and cross-thread mailbox items run on the loop.",
     &LoopMetrics::tasks_run},
    {"gnet_datagrams_dropped_total", "counter",
     "UDP datagrams lost with a logged reason (received truncated, or a batched reply the kernel refused).",
     &LoopMetrics::datagrams_dropped},
};

constexpr std::string_view kTurn = "gnet_loop_turn_duration_seconds";

}  // namespace

void append_prometheus(std::string& out, const EngineMetrics& metrics) {
  for (const Family& f : kFamilies) {
    append_header(out, f.name, f.type, f.help);
    for (const LoopMetrics& m : metrics.loops) {
      out += f.name;
      append_labels(out, m.loop);
      out += "} ";
      append_uint(out, m.*f.field);
      out += '\n';
    }
  }
  append_header(out, kTurn, "histogram",
                "Time a loop turn spent working (dispatch, tasks, timers), without the wait for events.");
  for (const LoopMetrics& m : metrics.loops) {
    std::uint64_t cumulative = 0;
    for (int i = 0; i <= TurnHistogram::kBounds; ++i) {
      cumulative += m.turn_time.buckets[static_cast<std::size_t>(i)];
      out += kTurn;
      out += "_bucket";
      append_labels(out, m.loop);
      out += ",le=\"";
      if (i < TurnHistogram::kBounds) {
        append_decimal(out, static_cast<std::uint64_t>(TurnHistogram::upper_bound(i).count()), 6);
      } else {
        out += "+Inf";
      }
      out += "\"} ";
      append_uint(out, cumulative);
      out += '\n';
    }
    out += kTurn;
    out += "_sum";
    append_labels(out, m.loop);
    out += "} ";
    append_decimal(out, m.turn_time.sum_ns, 9);
    out += '\n';
    out += kTurn;
    out += "_count";
    append_labels(out, m.loop);
    out += "} ";
    append_uint(out, cumulative);
    out += '\n';
  }
}

std::string to_prometheus(const EngineMetrics& metrics) {
  std::string out;
  out.reserve(4096 + metrics.loops.size() * 2048);
  append_prometheus(out, metrics);
  return out;
}

}  // namespace gnet
