// chat_page.cpp — see chat_page.hpp. Embedded so the binary is self-contained (install copies
// one file). Received text is shown with textContent, never parsed as HTML.
#include "chat_page.hpp"

namespace ws {

const std::string_view kChatPage = R"HTML(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>gnet-cpp chat</title>
<style>
  body { font: 15px/1.4 system-ui, sans-serif; max-width: 44rem; margin: 2rem auto; padding: 0 1rem; }
  #status[data-state="open"] { color: #15803d; }
  #status[data-state="closed"] { color: #b91c1c; }
  #log { list-style: none; padding: .5rem; height: 22rem; overflow-y: auto; border: 1px solid #ccc; border-radius: 6px; }
  #log li { padding: .1rem 0; white-space: pre-wrap; word-break: break-word; }
  #log li.info { color: #666; font-style: italic; }
  form { display: flex; gap: .5rem; }
  #msg { flex: 1; }
</style>
</head>
<body>
<h1>gnet-cpp chat</h1>
<p>Every message goes to everyone connected (the sender too). Status:
  <span id="status" data-state="connecting">connecting&hellip;</span></p>
<ul id="log"></ul>
<form id="form">
  <input id="name" size="10" aria-label="name">
  <input id="msg" autocomplete="off" placeholder="say something" aria-label="message" autofocus>
  <button id="send" type="submit">Send</button>
</form>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
const url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws";
$("name").value = "guest-" + Math.floor(1000 + Math.random() * 9000);
let sock = null;

function setStatus(state, text) {
  $("status").dataset.state = state;
  $("status").textContent = text;
}

function add(text, cls) {
  const li = document.createElement("li");
  li.textContent = text;
  if (cls) li.className = cls;
  $("log").appendChild(li);
  li.scrollIntoView({ block: "end" });
}

function connect() {
  setStatus("connecting", "connecting\u2026");
  sock = new WebSocket(url);
  sock.binaryType = "arraybuffer";
  sock.onopen = () => setStatus("open", "connected to " + url);
  sock.onmessage = (ev) => {
    if (typeof ev.data === "string") add(ev.data);
    else add("[binary message, " + ev.data.byteLength + " bytes]", "info");
  };
  sock.onclose = (ev) => {
    setStatus("closed", "disconnected (code " + ev.code + "), retrying in 2 s");
    setTimeout(connect, 2000);
  };
}

$("form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const text = $("msg").value;
  if (!text || !sock || sock.readyState !== WebSocket.OPEN) return;
  sock.send(($("name").value || "anonymous") + ": " + text);
  $("msg").value = "";
});

connect();
</script>
</body>
</html>
)HTML";

}  // namespace ws
