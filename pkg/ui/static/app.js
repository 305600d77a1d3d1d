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

  // kept returns what the person chose inside el that a replacement must not lose: the ticked
  // checkboxes marked data-keep, the tree's closed nodes and its tab stop, and the focus.
  function kept(el) {
    var state = { checked: {}, closed: {}, focus: null, treeFocus: null, tabStop: null };
    el.querySelectorAll("input[type=checkbox][data-keep]").forEach(function (box) {
      if (box.checked) {
        state.checked[box.getAttribute("data-keep")] = true;
      }
      if (box === document.activeElement) {
        state.focus = box.getAttribute("data-keep");
      }
    });
    el.querySelectorAll("[role=treeitem][data-key]").forEach(function (it) {
      var key = it.getAttribute("data-key");
      if (it.getAttribute("aria-expanded") === "false") {
        state.closed[key] = true;
      }
      if (it.getAttribute("tabindex") === "0") {
        state.tabStop = key;
      }
      if (it === document.activeElement) {
        state.treeFocus = key;
      }
    });
    return state;
  }

  function restore(el, state) {
    el.querySelectorAll("input[type=checkbox][data-keep]").forEach(function (box) {
      var key = box.getAttribute("data-keep");
      box.checked = !!state.checked[key];
      if (state.focus === key) {
        box.focus();
      }
    });
    el.querySelectorAll("[role=treeitem][data-key]").forEach(function (it) {
      var key = it.getAttribute("data-key");
      if (state.closed[key] && it.hasAttribute("aria-expanded")) {
        it.setAttribute("aria-expanded", "false");
      }
      if (state.tabStop === key) {
        it.setAttribute("tabindex", "0");
      }
      if (state.treeFocus === key) {
        it.focus();
      }
    });
    initTree();
  }

  function replace(msg) {
    var node = parse(msg.html);
    if (!node) {
      return;
    }
    var old = document.getElementById(msg.id);
    if (old) {
      var state = kept(old);
      old.replaceWith(node);
      restore(node, state);
      updateSelection();
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

  // The sync form: revision, prune, dry run and the objects ticked under Resources, posted as
  // JSON with the header that proves the request comes from the UI's own page.
  var form = document.getElementById("sync-form");
  var result = document.getElementById("sync-result");

  function selected() {
    var out = [];
    document.querySelectorAll("input.select-resource:checked").forEach(function (box) {
      out.push({
        group: box.getAttribute("data-group"),
        kind: box.getAttribute("data-kind"),
        namespace: box.getAttribute("data-namespace"),
        name: box.getAttribute("data-name")
      });
    });
    return out;
  }

  function updateSelection() {
    var info = document.getElementById("sync-selection");
    if (!info) {
      return;
    }
    var n = selected().length;
    info.textContent = n === 0 ? "All objects; tick objects under Resources to sync only those." :
      n + (n === 1 ? " object selected" : " objects selected") + " under Resources: only " + (n === 1 ? "it is" : "they are") + " synced.";
  }

  function requestSync(body, buttons) {
    if (!form || !result) {
      return;
    }
    buttons.forEach(function (b) { b.disabled = true; });
    result.className = "result";
    result.removeAttribute("data-status");
    result.textContent = "Requesting a sync…";
    fetch(form.getAttribute("data-sync-url"), {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-Ferry-UI": "1", "Content-Type": "application/json" },
      body: JSON.stringify(body)
    }).then(function (resp) {
      return resp.json().catch(function () {
        return { message: resp.status + " " + resp.statusText };
      }).then(function (answer) {
        result.className = resp.ok ? "result ok" : "result error";
        result.setAttribute("data-status", String(resp.status));
        result.textContent = resp.ok ? answer.message : "Refused (" + resp.status + "): " + answer.message;
      });
    }).catch(function (err) {
      result.className = "result error";
      result.textContent = "The UI could not be reached: " + err;
    }).then(function () {
      buttons.forEach(function (b) { b.disabled = false; });
    });
  }

  if (form) {
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      requestSync({
        revision: form.elements.revision.value.trim(),
        prune: form.elements.prune.checked,
        dryRun: form.elements.dryRun.checked,
        resources: selected()
      }, [document.getElementById("sync-button")]);
    });
    // The live section is replaced as the Application changes, so its controls are handled here.
    document.addEventListener("change", function (e) {
      if (e.target.classList && e.target.classList.contains("select-resource")) {
        updateSelection();
      }
    });
    document.addEventListener("click", function (e) {
      var b = e.target.closest && e.target.closest("button.sync-to");
      if (b) {
        requestSync({ revision: b.getAttribute("data-revision") }, [b, document.getElementById("sync-button")]);
      }
    });
  }
  // A Pod's log: lines arrive in batches and are appended as text (never as HTML). The view keeps
  // to the end unless the person scrolled up, and keeps the last maxLogLines lines.
  var log = document.getElementById("log-lines");
  if (log && window.EventSource) {
    var maxLogLines = 5000;
    var received = 0;
    var logStatus = document.getElementById("log-status");
    var logSource = new EventSource(log.getAttribute("data-log-stream"));
    var stopLog = function (text, bad) {
      logSource.close();
      if (logStatus) {
        logStatus.textContent = text;
        logStatus.className = bad ? "count result error" : "count";
      }
      log.setAttribute("data-ended", bad ? "problem" : "end");
    };
    logSource.addEventListener("lines", function (e) {
      var msg = JSON.parse(e.data);
      var atEnd = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
      var frag = document.createDocumentFragment();
      msg.lines.forEach(function (line) {
        frag.appendChild(document.createTextNode(line + "\n"));
      });
      log.appendChild(frag);
      while (log.childNodes.length > maxLogLines) {
        log.removeChild(log.firstChild);
      }
      received += msg.lines.length;
      log.setAttribute("data-received", String(received));
      if (atEnd) {
        log.scrollTop = log.scrollHeight;
      }
    });
    logSource.addEventListener("end", function (e) { stopLog(JSON.parse(e.data).text, false); });
    logSource.addEventListener("problem", function (e) { stopLog("The log cannot be read: " + JSON.parse(e.data).text, true); });
  }
  // The resource tree follows the WAI-ARIA tree pattern: one tab stop, arrows to move, Right
  // and Left to open and close, Home and End, Enter to follow the item's link (a Pod's log). The
  // tree is replaced as it changes live, so its handlers listen on the document.
  function initTree() {
    var tree = document.getElementById("app-tree");
    if (tree && !tree.querySelector("[role=treeitem][tabindex='0']")) {
      var first = tree.querySelector("[role=treeitem]");
      if (first) {
        first.setAttribute("tabindex", "0");
      }
    }
  }
  initTree();

  function visibleItems(tree) {
    return Array.prototype.filter.call(tree.querySelectorAll("[role=treeitem]"), function (it) {
      for (var p = it.parentElement.closest("[role=treeitem]"); p; p = p.parentElement.closest("[role=treeitem]")) {
        if (p.getAttribute("aria-expanded") === "false") {
          return false;
        }
      }
      return true;
    });
  }

  function focusItem(tree, it) {
    if (!it) {
      return;
    }
    tree.querySelectorAll("[role=treeitem][tabindex='0']").forEach(function (o) { o.setAttribute("tabindex", "-1"); });
    it.setAttribute("tabindex", "0");
    it.focus();
  }

  document.addEventListener("click", function (e) {
    var tree = e.target.closest && e.target.closest("#app-tree");
    var it = tree && e.target.closest("[role=treeitem]");
    if (!it || e.target.closest("a")) {
      return;
    }
    if (e.target.classList.contains("twisty")) {
      it.setAttribute("aria-expanded", it.getAttribute("aria-expanded") === "true" ? "false" : "true");
    }
    focusItem(tree, it);
  });

  document.addEventListener("keydown", function (e) {
    var tree = e.target.closest && e.target.closest("#app-tree");
    var it = tree && e.target.closest("[role=treeitem]");
    if (!it) {
      return;
    }
    var visible = visibleItems(tree);
    var i = visible.indexOf(it);
    var expanded = it.getAttribute("aria-expanded");
    switch (e.key) {
    case "ArrowDown":
      focusItem(tree, visible[i + 1]);
      break;
    case "ArrowUp":
      focusItem(tree, visible[i - 1]);
      break;
    case "Home":
      focusItem(tree, visible[0]);
      break;
    case "End":
      focusItem(tree, visible[visible.length - 1]);
      break;
    case "ArrowRight":
      if (expanded === "false") {
        it.setAttribute("aria-expanded", "true");
      } else if (expanded === "true") {
        focusItem(tree, it.querySelector("[role=group] > [role=treeitem]"));
      }
      break;
    case "ArrowLeft":
      if (expanded === "true") {
        it.setAttribute("aria-expanded", "false");
      } else {
        focusItem(tree, it.parentElement.closest("[role=treeitem]"));
      }
      break;
    case "Enter":
      var link = it.querySelector(":scope > .label a.logs") || it.querySelector(":scope > .label a");
      if (link) {
        link.click();
      }
      break;
    default:
      return;
    }
    e.preventDefault();
  });
})();
