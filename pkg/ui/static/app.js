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
  // checkboxes marked data-keep, and the one that has the focus.
  function kept(el) {
    var state = { checked: {}, focus: null };
    el.querySelectorAll("input[type=checkbox][data-keep]").forEach(function (box) {
      if (box.checked) {
        state.checked[box.getAttribute("data-keep")] = true;
      }
      if (box === document.activeElement) {
        state.focus = box.getAttribute("data-keep");
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
})();
