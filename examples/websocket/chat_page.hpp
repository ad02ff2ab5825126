// chat_page.hpp — the chat client served at "/": one HTML page with inline CSS and JavaScript,
// no build step. It connects back to ws(s)://<same host>/ws, shows every message it receives and
// sends "name: text" lines. Element ids the browser test relies on: #status (data-state =
// connecting|open|closed), #name, #msg, #send, #log (one <li> per received message).
#pragma once

#include <string_view>

namespace ws {

extern const std::string_view kChatPage;

}  // namespace ws
