// Ferry web UI: swaps in the fragments the server renders and pushes (Server-Sent Events), and
// sends sync requests. Hand-written on purpose: the server renders all HTML, so this only needs
// an EventSource and a few DOM calls; no library, no build step, nothing fetched from elsewhere.
(function () {
  "use strict";

  var live = document.getElementById("live");

  function announce(text) {
    if (live && text) {
      live.textContent = text;
    }
  }

  // parse turns one server-rendered (html/template-escaped) element into a node. A <template>
  // parses rows and table bodies without a surrounding table.
  function parse(html) {
    var t = document.createElement("template");
    t.innerHTML = html;
    return t.content.firstElementChild;
  }

  function replace(msg) {
    var node = parse(msg.html);
    if (!node) {
      return;
    }
    var old = document.getElementById(msg.id);
    if (old) {
      old.replaceWith(node);
    } else if (msg.parent) {
      var parent = document.getElementById(msg.parent);
      if (parent) {
        parent.appendChild(node);
      }
    }
    announce(msg.announce);
  }

  function remove(msg) {
    var old = document.getElementById(msg.id);
    if (old) {
      old.remove();
    }
    announce(msg.announce);
  }

  function showProblem(text) {
    var p = document.getElementById("problem");
    if (p) {
      p.textContent = "Live updates stopped: " + text;
      p.hidden = false;
    }
  }

  var events = document.body.getAttribute("data-events");
  if (events && window.EventSource) {
    var source = new EventSource(events);
    source.addEventListener("replace", function (e) { replace(JSON.parse(e.data)); });
    source.addEventListener("remove", function (e) { remove(JSON.parse(e.data)); });
    source.addEventListener("problem", function (e) {
      showProblem(JSON.parse(e.data).text);
      source.close();
    });
    source.addEventListener("open", function () {
      document.body.setAttribute("data-live", "open");
    });
  }

  var button = document.getElementById("sync-button");
  var result = document.getElementById("sync-result");
  if (button && result) {
    button.addEventListener("click", function () {
      button.disabled = true;
      result.className = "result";
      result.textContent = "Requesting a sync…";
      fetch(button.getAttribute("data-sync-url"), {
        method: "POST",
        credentials: "same-origin",
        headers: { "X-Ferry-UI": "1" }
      }).then(function (resp) {
        return resp.json().catch(function () {
          return { message: resp.status + " " + resp.statusText };
        }).then(function (body) {
          result.className = resp.ok ? "result ok" : "result error";
          result.setAttribute("data-status", String(resp.status));
          result.textContent = resp.ok ? body.message : "Refused (" + resp.status + "): " + body.message;
        });
      }).catch(function (err) {
        result.className = "result error";
        result.textContent = "The UI could not be reached: " + err;
      }).then(function () {
        button.disabled = false;
      });
    });
  }
})();
