// Drops the article chat into any page:
//   <script src="https://HOST/embed.js" data-token="TOKEN" defer></script>
// Options (data-*): token (RAG_API_TOKEN, if the server has one), title, open="true"
// (start open), target="#css-selector" (render inline in that element instead of a
// floating button).
//
// The chat itself runs in a frame served by the answering server (/widget): article text
// is never put into the host page's DOM, and the frame talks to its own origin, so the
// server needs no CORS setting for the widget to work.
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || window.__ragEmbedLoaded) return;
  window.__ragEmbedLoaded = true;

  var origin = new URL(script.src, location.href).origin;
  var data = script.dataset;
  var title = data.title || "Ask the articles";
  var fragment = new URLSearchParams({ token: data.token || "", title: title }).toString();

  function frame() {
    var f = document.createElement("iframe");
    f.src = origin + "/widget#" + fragment;
    f.title = title;
    f.setAttribute("referrerpolicy", "no-referrer");
    f.style.cssText = "border:0;width:100%;height:100%;display:block;background:#fff;";
    return f;
  }

  function style(node, css) { node.style.cssText = css; return node; }

  function mount() {
    if (data.target) {
      var place = document.querySelector(data.target);
      if (!place) return;
      var box = style(document.createElement("div"),
        "height:560px;border:1px solid #e3e7ef;border-radius:14px;overflow:hidden;");
      box.className = "rag-widget-inline";
      box.appendChild(frame());
      place.appendChild(box);
      return;
    }
    // Floating: a button in the corner that opens a panel. Inline styles only, set through
    // the DOM, so a host page's strict CSP (no inline <style>) does not break it.
    var host = document.createElement("div");
    host.id = "rag-widget";
    var root = host.attachShadow ? host.attachShadow({ mode: "open" }) : host;
    var panel = style(document.createElement("div"),
      "position:fixed;right:20px;bottom:88px;width:380px;max-width:calc(100vw - 40px);" +
      "height:600px;max-height:calc(100vh - 120px);border-radius:16px;overflow:hidden;" +
      "box-shadow:0 12px 40px rgba(20,24,40,.25);background:#fff;z-index:2147483000;" +
      "display:none;");
    panel.setAttribute("part", "panel");
    var button = style(document.createElement("button"),
      "position:fixed;right:20px;bottom:20px;height:52px;padding:0 20px 0 16px;border:0;" +
      "border-radius:26px;background:linear-gradient(135deg,#4f46e5,#7c3aed);color:#fff;" +
      "font:600 15px/1 ui-sans-serif,system-ui,sans-serif;cursor:pointer;" +
      "box-shadow:0 6px 20px rgba(79,70,229,.45);z-index:2147483000;");
    button.type = "button";
    button.setAttribute("part", "launcher");
    button.setAttribute("aria-expanded", "false");
    button.textContent = "❝  " + title;
    var loaded = false;
    function toggle(open) {
      if (open && !loaded) { panel.appendChild(frame()); loaded = true; }
      panel.style.display = open ? "block" : "none";
      button.setAttribute("aria-expanded", String(open));
      button.textContent = open ? "✕  Close" : "❝  " + title;
    }
    button.addEventListener("click", function () {
      toggle(panel.style.display === "none");
    });
    root.appendChild(panel);
    root.appendChild(button);
    document.body.appendChild(host);
    if (data.open === "true") toggle(true);
  }

  if (document.body) mount();
  else document.addEventListener("DOMContentLoaded", mount);
})();
