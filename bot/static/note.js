// The note form's own script (no framework, nothing from elsewhere: the page's Content-Security-Policy allows only
// this site). It hands Telegram's Mini App launch data to the form, counts characters as they are typed, sends a
// form once however often its button is tapped, and closes the Mini App when the page is done.
"use strict";

(function () {
  function launchData() {
    // Telegram opens a Mini App with its signed launch data in the address's fragment (never sent to a server
    // by the browser itself): #tgWebAppData=<initData>&tgWebAppVersion=...
    var hash = window.location.hash ? window.location.hash.slice(1) : "";
    try {
      return new URLSearchParams(hash).get("tgWebAppData") || "";
    } catch (e) {
      return "";
    }
  }

  function inTelegram(data) {
    return Boolean(data) || Boolean(window.TelegramWebviewProxy) || (window.parent && window.parent !== window);
  }

  function postEvent(type) {
    // What Telegram's own script does, without loading it: the app's webview, or the web client's frame.
    var data = JSON.stringify({ eventType: type, eventData: {} });
    if (window.TelegramWebviewProxy && window.TelegramWebviewProxy.postEvent) {
      window.TelegramWebviewProxy.postEvent(type, "{}");
      return true;
    }
    if (window.parent && window.parent !== window) {
      window.parent.postMessage(data, "https://web.telegram.org");
      return true;
    }
    return false;
  }

  function closePage() {
    if (!postEvent("web_app_close")) {
      window.close();
    }
  }

  function counter(form, field) {
    var out = document.getElementById("counter");
    if (!out || !field) {
      return;
    }
    var limit = parseInt(form.getAttribute("data-limit"), 10);
    var normal = form.getAttribute("data-counter");
    var over = form.getAttribute("data-counter-over");
    function update() {
      var count = Array.from(field.value).length;
      var template = count > limit ? over : normal;
      out.textContent = template
        .replace("{count}", String(count))
        .replace("{limit}", String(limit))
        .replace("{over}", String(count - limit));
      out.classList.toggle("over", count > limit);
    }
    field.addEventListener("input", update);
    update();
  }

  function onceOnly(form) {
    var sent = false;
    form.addEventListener("submit", function (event) {
      if (sent) {
        event.preventDefault();
        return;
      }
      sent = true;
      // The buttons are disabled after the browser has taken the pressed one's value.
      window.setTimeout(function () {
        form.querySelectorAll("button").forEach(function (b) { b.disabled = true; });
      }, 0);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var data = launchData();
    postEvent("web_app_ready");
    document.querySelectorAll("input[name=init_data]").forEach(function (input) { input.value = data; });
    var expired = document.getElementById("plain-expired");
    if (expired && !data) {
      // Opened as a plain link that has expired: say so now, rather than take typing that would be refused.
      document.querySelectorAll("form").forEach(function (f) { f.remove(); });
      expired.classList.remove("hidden");
      return;
    }
    var form = document.getElementById("note-form");
    if (form) {
      counter(form, document.getElementById("text"));
      onceOnly(form);
    }
    var read = document.getElementById("read-form");
    if (read) {
      onceOnly(read);
      read.requestSubmit ? read.requestSubmit() : read.submit();
    }
    if (inTelegram(data)) {
      // Only a Mini App can be closed by its page: an ordinary browser tab stays open, so no button there.
      document.querySelectorAll("[data-close]").forEach(function (button) {
        button.classList.remove("hidden");
        button.addEventListener("click", closePage);
      });
    }
  });
})();
