// app.js: an optional nicety for the Teams Phone Access Portal.
//
// Nothing depends on it: every page, link and form works with JavaScript
// turned off. It is served from 'self' under a strict Content Security Policy,
// so it uses no eval, no inline handlers and sets no inline styles.
//
// What it does: when the server re-renders a form with errors, it marks the
// bad fields aria-invalid="true". This moves focus to the first of them, on a
// full page load and after an htmx swap, so a keyboard or screen-reader user
// lands on the field to fix. Fields marked autofocus are left alone: the
// browser (page load) and htmx (after a swap) already focus those.
//
// And a checkbox marked data-select-all="FORM" ticks or clears every
// checkbox that belongs to that form (the drift report's bulk resolve);
// without JavaScript each row is ticked by hand.
//
// And beside each object ID shown short (templates.ObjectID, .oid with
// data-id) it puts a button that copies the ID whole to the clipboard and
// says so; without JavaScript there is no button and the ID is there to
// select.
(function () {
  "use strict";

  var invalid = '[aria-invalid="true"]';

  // focusFirstInvalid focuses the first invalid field in root (root itself
  // included) and reports whether root had anything to say about focus.
  function focusFirstInvalid(root) {
    if (!root || typeof root.querySelector !== "function") return false;
    var self = typeof root.matches === "function";
    if ((self && root.matches("[autofocus]")) || root.querySelector("[autofocus]")) return true;
    var field = self && root.matches(invalid) ? root : root.querySelector(invalid);
    if (!field) return false;
    field.focus();
    return true;
  }

  function onPageLoad() {
    // Respect a focus the person (or the browser) has already placed.
    var active = document.activeElement;
    if (active && active !== document.body && active !== document.documentElement) return;
    focusFirstInvalid(document);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", onPageLoad);
  } else {
    onPageLoad();
  }

  // Controls that only work with JavaScript are hidden until it runs, on
  // the page and in what htmx swaps in later.
  function revealScripted() {
    var hidden = document.querySelectorAll("[data-needs-js][hidden]");
    for (var i = 0; i < hidden.length; i++) hidden[i].hidden = false;
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", revealScripted);
  } else {
    revealScripted();
  }

  document.addEventListener("change", function (event) {
    var box = event.target;
    var form = box && box.getAttribute && box.getAttribute("data-select-all");
    if (!form) return;
    var boxes = document.querySelectorAll('input[type="checkbox"][form="' + form + '"]');
    for (var i = 0; i < boxes.length; i++) boxes[i].checked = box.checked;
  });

  // The copy buttons, made here rather than sent with every ID: a list
  // page shows a hundred IDs, and the buttons work only with JavaScript.
  var svgNS = "http://www.w3.org/2000/svg";
  function svgElement(name, attrs) {
    var el = document.createElementNS(svgNS, name);
    for (var k in attrs) el.setAttribute(k, attrs[k]);
    return el;
  }
  function copyButton(id) {
    var button = document.createElement("button");
    button.type = "button";
    button.className = "copy-id";
    button.title = "Copy the whole ID";
    button.setAttribute("aria-label", "Copy ID");
    button.setAttribute("data-copy", id);
    var icon = svgElement("svg", { "aria-hidden": "true", focusable: "false", width: "14", height: "14", viewBox: "0 0 16 16", fill: "none", stroke: "currentColor", "stroke-width": "1.5" });
    icon.appendChild(svgElement("rect", { x: "5.5", y: "5.5", width: "8", height: "9", rx: "1.5" }));
    icon.appendChild(svgElement("path", { d: "M3.5 10.5h-.5a1 1 0 0 1-1-1v-7a1 1 0 0 1 1-1h6a1 1 0 0 1 1 1v.5" }));
    button.appendChild(icon);
    return button;
  }
  function addCopyButtons() {
    var ids = document.querySelectorAll(".oid[data-id]");
    for (var i = 0; i < ids.length; i++) {
      if (!ids[i].querySelector(".copy-id")) ids[i].appendChild(copyButton(ids[i].getAttribute("data-id")));
    }
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", addCopyButtons);
  } else {
    addCopyButtons();
  }

  // Copying: the tick on the button and the status message last a moment.
  var status;
  function say(text) {
    if (!status) {
      status = document.createElement("span");
      status.className = "visually-hidden";
      status.setAttribute("role", "status");
      status.setAttribute("data-testid", "copy-status");
      document.body.appendChild(status);
    }
    status.textContent = text;
  }

  function copied(button, ok) {
    button.setAttribute("data-copied", ok ? "yes" : "no");
    say(ok ? "ID copied to the clipboard." : "Not copied: the ID is selected, press Ctrl+C (or ⌘C) to copy it.");
    clearTimeout(button.copyTimer);
    button.copyTimer = setTimeout(function () {
      button.removeAttribute("data-copied");
    }, 2000);
  }

  // Without the Clipboard API (a page not served over HTTPS): select the
  // ID, ask the browser to copy the selection, and leave it selected if
  // it would not, for the person to copy.
  function copyBySelection(button) {
    var code = button.parentNode && button.parentNode.querySelector("code");
    var ok = false;
    if (code) {
      var range = document.createRange();
      range.selectNodeContents(code);
      var selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
      try {
        ok = document.execCommand("copy");
      } catch (e) {
        ok = false;
      }
      if (ok) selection.removeAllRanges();
    }
    copied(button, ok);
  }

  document.addEventListener("click", function (event) {
    var button = event.target && event.target.closest && event.target.closest("button[data-copy]");
    if (!button) return;
    var text = button.getAttribute("data-copy");
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(
        function () {
          copied(button, true);
        },
        function () {
          copyBySelection(button);
        }
      );
    } else {
      copyBySelection(button);
    }
  });

  // htmx 4 fires htmx:after:settle once the new content is in place; its
  // detail.newContent lists the inserted nodes.
  document.addEventListener("htmx:after:settle", function (event) {
    // Swapped-in content (a drift report that refreshed itself) has its
    // scripted controls hidden again: reveal them; and its IDs want their
    // copy buttons.
    revealScripted();
    addCopyButtons();
    var added = (event.detail && event.detail.newContent) || [];
    for (var i = 0; i < added.length; i++) {
      if (focusFirstInvalid(added[i])) return;
    }
  });
})();
