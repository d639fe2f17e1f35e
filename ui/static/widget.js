// The wiki widget: asks /api/ask/stream and shows the answer with its sources.
// Everything from the server is put in the page as text (textContent), never as HTML;
// links are set only from http(s) URLs.
(function () {
  "use strict";
  var params = new URLSearchParams(location.hash.slice(1));
  var token = params.get("token") || "";  // in the fragment: never sent to a server
  var title = params.get("title");
  var log = document.getElementById("w-log");
  var form = document.getElementById("w-form");
  var input = document.getElementById("w-q");
  var send = document.getElementById("w-send");
  var turns = [];  // this conversation, sent with each question for follow-ups
  var busy = false;

  if (title) document.getElementById("w-title").textContent = title;

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = text;
    return e;
  }

  function safeUrl(u) {
    return typeof u === "string" && /^https?:\/\//i.test(u) ? u : null;
  }

  function link(url, cls, text) {
    var a = el("a", cls, text);
    var safe = safeUrl(url);
    if (safe) a.href = safe;
    a.target = "_blank";
    a.rel = "noopener noreferrer";
    return a;
  }

  function headers() {
    var h = { "Content-Type": "application/json" };
    if (token) h.Authorization = "Bearer " + token;
    return h;
  }

  function scroll() { log.scrollTop = log.scrollHeight; }

  function addMsg(cls, text) {
    var m = el("div", "w-msg " + cls, text);
    log.appendChild(m);
    scroll();
    return m;
  }

  function publisher(c) {
    if (c.source) return c.source;
    var web = safeUrl(c.url);
    return web ? new URL(web).host : "";  // never a file name from the server
  }

  function vote(bubble, answer, history, which, button) {
    fetch("/widget/feedback", {
      method: "POST", headers: headers(),
      body: JSON.stringify({ question: answer.question, answer: answer.answer,
                             citations: answer.citations, vote: which, history: history })
    }).then(function (r) {
      if (r.ok) {
        bubble.querySelectorAll(".w-votes button").forEach(function (b) {
          b.classList.remove("on");
        });
        button.classList.add("on");
      }
    });
  }

  function renderAnswer(bubble, answer, history) {
    bubble.replaceChildren();
    bubble.classList.remove("w-status");
    if (answer.refused) {
      bubble.appendChild(el("span", "w-refused-title", "Not in the articles"));
      bubble.appendChild(document.createTextNode(answer.answer));
      return;
    }
    var byN = {};
    answer.citations.forEach(function (c) { byN[c.n] = c; });
    answer.answer.split(/(\[\d+\])/).forEach(function (piece) {
      var m = /^\[(\d+)\]$/.exec(piece);
      var c = m && byN[Number(m[1])];
      if (c) {
        var a = link(c.viewer_url, "w-cite", String(c.n));
        a.title = c.title;
        bubble.appendChild(a);
      } else if (piece) {
        bubble.appendChild(document.createTextNode(piece));
      }
    });
    (answer.conflicts || []).forEach(function (c) {
      // Different figures for one measure, each with its citation number and source.
      var box = el("div", "w-conflict");
      box.appendChild(el("strong", null, "Sources disagree: "));
      box.appendChild(document.createTextNode(c.summary));
      bubble.appendChild(box);
    });
    var list = el("ol", "w-sources");
    list.appendChild(el("li", "w-sources-title", "Sources"));
    answer.citations.forEach(function (c) {
      var li = el("li", "w-src");
      var head = el("div");
      head.appendChild(el("span", "w-src-n", String(c.n)));
      head.appendChild(link(c.viewer_url, "w-src-title", c.title));
      li.appendChild(head);
      var meta = [publisher(c), c.date].filter(Boolean).join(" · ");
      if (meta) li.appendChild(el("div", "w-src-meta", meta));
      li.appendChild(el("blockquote", null, c.quote));
      if (safeUrl(c.original_url)) {
        li.appendChild(link(c.original_url, "w-src-orig", "Original at the quote ↗"));
      }
      list.appendChild(li);
    });
    bubble.appendChild(list);
    var votes = el("div", "w-votes");
    [["up", "Helpful"], ["down", "Not helpful"]].forEach(function (v) {
      var b = el("button", null, v[1]);
      b.type = "button";
      b.addEventListener("click", function () { vote(bubble, answer, history, v[0], b); });
      votes.appendChild(b);
    });
    bubble.appendChild(votes);
  }

  // Server-sent events over fetch (EventSource cannot POST): blocks split by a blank line.
  function readEvents(response, onEvent) {
    var reader = response.body.getReader();
    var decoder = new TextDecoder();
    var buffer = "";
    function pump() {
      return reader.read().then(function (r) {
        buffer += decoder.decode(r.value || new Uint8Array(), { stream: !r.done });
        var blocks = buffer.split(/\r?\n\r?\n/);
        buffer = r.done ? "" : blocks.pop();
        blocks.forEach(function (block) {
          var name = "message", data = [];
          block.split(/\r?\n/).forEach(function (line) {
            if (line.indexOf("event:") === 0) name = line.slice(6).trim();
            else if (line.indexOf("data:") === 0) data.push(line.slice(5).replace(/^ /, ""));
          });
          if (data.length) onEvent(name, JSON.parse(data.join("\n")));
        });
        if (!r.done) return pump();
      });
    }
    return pump();
  }

  function ask(question) {
    busy = true;
    send.disabled = true;
    var intro = document.getElementById("w-intro");
    if (intro) intro.remove();
    addMsg("w-user", question);
    var bubble = addMsg("w-bot w-status", "Searching the articles…");
    var draft = "";
    var done = false;
    var history = turns.slice();  // the conversation this question follows
    fetch("/widget/ask/stream", {
      method: "POST", headers: headers(),
      body: JSON.stringify({ question: question, history: history })
    }).then(function (response) {
      if (response.status === 401) {
        throw new Error("this server asks for an access token, and the page that embeds " +
                        "the chat did not pass a valid one (data-token)");
      }
      if (!response.ok) {
        return response.json().then(
          function (e) { throw new Error(e.error || response.statusText); },
          function () { throw new Error(response.statusText); });
      }
      return readEvents(response, function (name, data) {
        if (name === "token") {
          draft += data.text;
          bubble.classList.remove("w-status");
          bubble.textContent = draft;
        } else if (name === "answer") {
          done = true;
          renderAnswer(bubble, data, history);
          turns.push({ role: "user", content: question },
                     { role: "assistant", content: data.answer });
          log.scrollTop = bubble.offsetTop - log.offsetTop - 8;  // the answer's start
          return;
        } else if (name === "error") {
          throw new Error(data.error);
        }
        scroll();
      });
    }).then(function () {
      if (!done) throw new Error("the answer was cut off; please ask again");
    }).catch(function (err) {
      bubble.classList.remove("w-status");
      bubble.classList.add("w-error");
      bubble.textContent = "Sorry: " + err.message;
      scroll();
    }).then(function () {
      busy = false;
      send.disabled = false;
      input.focus();
    });
  }

  // Example questions the articles answer (checked by the server at start-up).
  function showExamples() {
    fetch("/widget/examples", { headers: headers() }).then(function (r) {
      return r.ok ? r.json() : { questions: [] };
    }).then(function (data) {
      var intro = document.getElementById("w-intro");
      if (!intro || !data.questions || !data.questions.length) return;
      var box = el("div", "w-examples");
      box.appendChild(el("div", "w-examples-title", "Try asking"));
      data.questions.forEach(function (q) {
        var b = el("button", "w-example", q);
        b.type = "button";
        b.addEventListener("click", function () { if (!busy) ask(q); });
        box.appendChild(b);
      });
      intro.appendChild(box);
    }, function () {});
  }

  form.addEventListener("submit", function (e) {
    e.preventDefault();
    var q = input.value.trim();
    if (!q || busy) return;
    input.value = "";
    ask(q);
  });
  input.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && !e.shiftKey) {
      e.preventDefault();
      form.requestSubmit();
    }
  });
  document.getElementById("w-new").addEventListener("click", function () {
    if (busy) return;
    turns = [];
    var intro = el("div", "w-intro", "New conversation. Ask a question about the articles.");
    intro.id = "w-intro";
    log.replaceChildren(intro);
    showExamples();
    input.focus();
  });
  showExamples();
})();
