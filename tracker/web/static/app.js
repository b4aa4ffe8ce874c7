// Followup workspace: live hot list (polling with ETags), the sequence editor's steps and preview.
"use strict";

function csrf() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.content : "";
}

// Hot list: ask every few seconds; the server answers 304 until a new human open or click.
function startHotList(list) {
  let etag = list.dataset.version ? '"' + list.dataset.version + '"' : "";
  const every = parseInt(list.dataset.poll || "3000", 10);
  async function poll() {
    try {
      const response = await fetch(list.dataset.src, {
        headers: etag ? { "If-None-Match": etag } : {}, credentials: "same-origin", cache: "no-store",
      });
      if (response.redirected || response.status === 401) {
        window.location.reload();  // signed out meanwhile: show the sign-in page
        return;
      }
      if (response.status === 200) {
        etag = response.headers.get("ETag") || "";
        list.innerHTML = await response.text();
        list.dataset.updated = String(Date.now());
      }
    } catch (e) { /* offline for a moment: the next poll tries again */ }
    setTimeout(poll, every);
  }
  setTimeout(poll, every);
}

// Sequence editor: add and remove steps, and a live preview of the focused email step.
function startEditor(form) {
  const steps = form.querySelector("#steps");
  const blank = document.querySelector("#step-template");
  form.querySelector("#add-step").addEventListener("click", () => {
    steps.appendChild(blank.content.cloneNode(true));
    number();
  });
  steps.addEventListener("click", (event) => {
    if (event.target.matches(".remove-step") && steps.children.length > 1) {
      event.target.closest(".step").remove();
      number();
    }
  });
  steps.addEventListener("change", (event) => {
    if (event.target.matches("select[name=step_type]")) kinds();
  });
  function number() {
    steps.querySelectorAll(".step .number").forEach((el, i) => { el.textContent = String(i + 1); });
    kinds();
  }
  function kinds() {
    steps.querySelectorAll(".step").forEach((step) => {
      const email = step.querySelector("select[name=step_type]").value === "email";
      step.querySelectorAll(".email-only").forEach((el) => { el.hidden = !email; });
    });
  }
  number();

  const pane = document.querySelector("#preview");
  const who = document.querySelector("#preview-prospect");
  let current = null;
  let timer = null;
  // The server renders the step (fields marked, missing ones listed) and writes its delay and
  // the window in words; an answer that is not a preview says so instead of leaving it blank.
  async function render() {
    if (!current) return;
    const body = new FormData();
    const field = (name) => current.querySelector(`[name=step_${name}]`).value;
    for (const name of ["type", "subject", "body_html", "body_text", "delay", "business_days"]) {
      body.append(name, field(name));
    }
    body.append("step", String(Array.from(steps.children).indexOf(current) + 1));
    body.append("prospect_id", who ? who.value : "");
    for (const name of ["timezone", "window_start", "window_end"]) {
      body.append(name, form.querySelector(`[name=${name}]`).value);
    }
    form.querySelectorAll("[name=window_days]:checked").forEach((box) => {
      body.append("window_days", box.value);
    });
    const id = document.querySelector("#sequence-id");
    body.append("sequence_id", id ? id.value : "");
    try {
      const response = await fetch(pane.dataset.src, {
        method: "POST", body, headers: { "X-CSRF-Token": csrf() }, credentials: "same-origin",
      });
      if (!response.ok || response.redirected) {
        pane.innerHTML = '<p class="error-box" id="preview-error"></p>';
        pane.firstChild.textContent = response.status === 400
          ? "The page expired: reload it to see the preview."
          : "The preview could not be shown (" + response.status + "); reload the page.";
        return;
      }
      pane.innerHTML = await response.text();
    } catch (e) {
      pane.innerHTML = '<p class="error-box" id="preview-error">The server did not answer; the preview comes back when it does.</p>';
      return;
    }
    const words = pane.querySelector("#preview-words");
    if (words) {
      const delay = current.querySelector(".delay-words");
      if (delay) {
        // A delay the box cannot read says why, with an example, instead of when it comes due.
        const error = words.dataset.delayError;
        delay.textContent = error || "Comes due " + words.dataset.delay + ".";
        delay.classList.toggle("delay-error", Boolean(error));
        delay.classList.toggle("muted", !error);
        if (error) delay.setAttribute("role", "alert"); else delay.removeAttribute("role");
      }
      const windowWords = document.querySelector("#window-words");
      if (windowWords) windowWords.textContent = words.dataset.window;
    }
  }
  function later() { clearTimeout(timer); timer = setTimeout(render, 300); }
  steps.addEventListener("input", (event) => {
    current = event.target.closest(".step");
    later();
  });
  // A changed step type, day count or window: the words follow at once.
  form.addEventListener("change", (event) => {
    const step = event.target.closest(".step");
    if (step) current = step;
    later();
  });
  steps.addEventListener("focusin", (event) => {
    const step = event.target.closest(".step");
    if (step && step !== current) { current = step; later(); }
  });
  if (who) who.addEventListener("change", later);
  current = steps.querySelector(".step");
  later();
}

// CSV import: the page waits for the whole file; say so with a bar instead of a frozen form.
function startImport(form) {
  form.addEventListener("submit", () => {
    const bar = form.querySelector("#csv-progress");
    if (bar) bar.hidden = false;
  });
}

document.addEventListener("DOMContentLoaded", () => {
  const upload = document.querySelector("form#csv-import");
  if (upload) startImport(upload);
  const list = document.querySelector("#hotlist[data-src]");
  if (list) startHotList(list);
  const editor = document.querySelector("form#sequence-editor");
  if (editor) startEditor(editor);
});
