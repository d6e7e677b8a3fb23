/*
 * Ledgerlink: the only script of our own. Loaded with `defer` after htmx; the CSP allows
 * no inline script, so every behaviour lives here and is wired by attributes.
 *
 *   [data-autofocus], h1/h2[tabindex="-1"]  receive focus after a user-triggered swap
 *   .error-summary                           receives focus when it appears
 *   [data-confirm="Question?"]               native confirm() before the form submits
 *   table.table--stack                       cells labelled by their column header
 *   .flash-region[data-msg-network-error]    text shown when an htmx request cannot reach
 *   .flash-region[data-msg-request-error]    the server / gets an error status (translated
 *                                            in the template; nb/en fallback here)
 *
 * htmx is configured once, by <meta name="htmx-config"> in base.html, and sends the CSRF token
 * from the <body hx-headers> there. Every page works without this file; it only makes the
 * htmx upgrade accessible.
 */
(function () {
  "use strict";

  /* (b, c) Focus after a swap, so a screen reader hears the new content.
     Order of preference inside the swapped content: the error summary, an element marked
     data-autofocus, a heading made focusable with tabindex="-1".
     Focus moves only when the user asked for the change (a click or a submit), or when
     the swap removed the element that had focus. Polling and live validation therefore
     never pull focus away from where someone is reading or typing; their news is
     announced through aria-live regions instead. */
  var FOCUS_TARGETS = [
    ".error-summary",
    "[data-autofocus]",
    'h1[tabindex="-1"]',
    'h2[tabindex="-1"]',
  ];

  function findFocusTarget(root) {
    for (var i = 0; i < FOCUS_TARGETS.length; i++) {
      var selector = FOCUS_TARGETS[i];
      if (root.matches && root.matches(selector)) return root;
      var found = root.querySelector && root.querySelector(selector);
      if (found) return found;
    }
    return null;
  }

  function focusElement(el) {
    if (!el.matches("a[href], button, input, select, textarea, [tabindex]")) {
      el.setAttribute("tabindex", "-1");
    }
    el.focus();
  }

  function focusWasLost() {
    var active = document.activeElement;
    return !active || active === document.body || !document.body.contains(active);
  }

  function userAsked(detail) {
    var config = detail && detail.requestConfig;
    var event = config && config.triggeringEvent;
    return !!(event && event.isTrusted && (event.type === "click" || event.type === "submit"));
  }

  // One focus move per response, even when it settles several elements (oob swaps).
  var handled = typeof WeakSet === "function" ? new WeakSet() : null;

  document.addEventListener("htmx:afterSettle", function (evt) {
    var xhr = evt.detail && evt.detail.xhr;
    if (handled && xhr && handled.has(xhr)) return;
    var root = evt.target;
    if (!(root instanceof Element) || !document.body.contains(root)) return;
    if (!userAsked(evt.detail) && !focusWasLost()) return;
    var target = findFocusTarget(root);
    if (!target || target === document.activeElement) return;
    // Even when htmx has restored focus to a same-id control (the new step's Next
    // button), the reader must start at the new content, so the move still happens.
    if (handled && xhr) handled.add(xhr);
    focusElement(target);
  });

  /* (c) A full page that comes back with errors (plain form post, no htmx) also starts
     at its summary. */
  function focusSummaryOnLoad() {
    var summary = document.querySelector(".error-summary");
    if (summary) focusElement(summary);
  }

  /* Links in the error summary: focus the field and bring its label into view, so the
     reader sees the question, not just the input box. */
  document.addEventListener("click", function (evt) {
    var link = evt.target.closest && evt.target.closest('.error-summary a[href^="#"]');
    if (!link) return;
    var id = decodeURIComponent(link.getAttribute("href").slice(1));
    var field = id && document.getElementById(id);
    if (!field) return;
    if (!field.matches("input, select, textarea, button, [tabindex]")) return;
    evt.preventDefault();
    var fieldset = field.closest("fieldset");
    var legend = fieldset && fieldset.querySelector("legend");
    var choice = field.type === "radio" || field.type === "checkbox";
    var label = (choice && legend) || (field.labels && field.labels[0]) || legend || field;
    label.scrollIntoView({ block: "start" });
    field.focus({ preventScroll: true });
  });

  /* (e) data-confirm: a native confirm() before a form submits. Works on the form, or on
     the button that submits it; for links and non-submit buttons on the click. Capture
     phase, so a "no" stops htmx's own listener too. */
  var HTMX_REQUEST_ATTRS = ["get", "post", "put", "patch", "delete"]
    .map(function (verb) {
      return "[hx-" + verb + "],[data-hx-" + verb + "]";
    })
    .join(",");

  function confirmed(el) {
    var question = el && el.getAttribute("data-confirm");
    return !question || window.confirm(question);
  }

  document.addEventListener(
    "submit",
    function (evt) {
      var form = evt.target;
      var submitter = evt.submitter;
      var asker =
        submitter && submitter.hasAttribute("data-confirm")
          ? submitter
          : form.closest("[data-confirm]");
      if (!confirmed(asker)) {
        evt.preventDefault();
        evt.stopImmediatePropagation();
      }
    },
    true
  );

  document.addEventListener(
    "click",
    function (evt) {
      var el = evt.target.closest && evt.target.closest("[data-confirm]");
      if (!el || el.tagName === "FORM") return;
      // Submit buttons are asked once, on submit (above), unless the button issues its
      // own htmx request: htmx then cancels the submit, so ask on the click.
      var submits = el.form && (el.type === "submit" || el.type === "image");
      if (submits && !el.matches(HTMX_REQUEST_ATTRS)) return;
      if (!confirmed(el)) {
        evt.preventDefault();
        evt.stopImmediatePropagation();
      }
    },
    true
  );

  /* When an htmx request fails outright, say so instead of doing nothing. The message
     goes into the page's aria-live .flash-region so it is announced. */
  function announce(kind) {
    var region = document.querySelector(".flash-region");
    if (!region) return;
    var lang = (document.documentElement.lang || "nb").slice(0, 2);
    var fallback = {
      network: {
        nb: "Feil: Fikk ikke kontakt med Ledgerlink. Sjekk nettforbindelsen og prøv igjen.",
        en: "Error: Could not reach Ledgerlink. Check your connection and try again.",
      },
      request: {
        nb: "Feil: Forespørselen kunne ikke fullføres. Last inn siden på nytt og prøv igjen.",
        en: "Error: The request could not be completed. Reload the page and try again.",
      },
    }[kind];
    var text =
      region.getAttribute("data-msg-" + kind + "-error") || fallback[lang] || fallback.nb;
    var banner = document.createElement("div");
    banner.className = "banner banner--error";
    banner.setAttribute("data-client-message", kind);
    var p = document.createElement("p");
    p.textContent = text;
    banner.appendChild(p);
    var old = region.querySelector('[data-client-message="' + kind + '"]');
    if (old) old.remove();
    region.appendChild(banner);
  }

  document.addEventListener("htmx:sendError", function () {
    announce("network");
  });
  // htmx 2 does not swap 4xx/5xx responses, so without this a failed click looks ignored.
  document.addEventListener("htmx:responseError", function () {
    announce("request");
  });

  /* The language link names the current page; after htmx pushes a new URL, follow it. */
  document.addEventListener("htmx:pushedIntoHistory", function () {
    document.querySelectorAll(".lang-switch a[hreflang]").forEach(function (link) {
      var url = new URL(window.location.href);
      url.searchParams.set("lang", link.getAttribute("hreflang"));
      link.setAttribute("href", url.pathname + url.search);
    });
  });

  /* (d) Service worker for static assets and the offline page (see static/sw.js). */
  if ("serviceWorker" in navigator && window.isSecureContext) {
    window.addEventListener("load", function () {
      navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(function () {
        // No service worker means no offline page; the app itself works the same.
      });
    });
  }

  /* (f) Stacked tables (.table--stack, one block per row on narrow screens): each cell
     without a data-label gets its column's header as one, and every part of the table
     gets its ARIA role, so screen readers keep reading it as a table once CSS stops
     laying it out as one (Safari drops table semantics for display: block). */
  var ROLES = { TABLE: "table", ROW: "row", TD: "cell" };

  function labelTables(root) {
    var tables = root.querySelectorAll ? root.querySelectorAll("table.table--stack") : [];
    Array.prototype.forEach.call(tables, function (table) {
      var heads = [];
      var headRow = table.tHead && table.tHead.rows[0];
      if (headRow) {
        Array.prototype.forEach.call(headRow.cells, function (th) {
          for (var span = 0; span < (th.colSpan || 1); span++) heads.push(th.textContent.trim());
        });
      }
      table.setAttribute("role", ROLES.TABLE);
      Array.prototype.forEach.call(table.rows, function (row) {
        row.setAttribute("role", ROLES.ROW);
        var column = 0;
        Array.prototype.forEach.call(row.cells, function (cell) {
          var inHead = row.parentNode === table.tHead;
          if (cell.tagName === "TH") {
            cell.setAttribute("role", inHead ? "columnheader" : "rowheader");
          } else {
            cell.setAttribute("role", ROLES.TD);
          }
          if (!inHead && !cell.hasAttribute("data-label") && heads[column]) {
            cell.setAttribute("data-label", heads[column]);
          }
          column += cell.colSpan || 1;
        });
      });
    });
  }
  document.addEventListener("htmx:afterSettle", function (evt) {
    labelTables(evt.target);
  });

  function ready() {
    focusSummaryOnLoad();
    labelTables(document);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", ready);
  } else {
    ready();
  }
})();
