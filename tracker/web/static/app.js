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
  async function render() {
    if (!current) return;
    const body = new FormData();
    body.append("subject", current.querySelector("[name=step_subject]").value);
    body.append("body_html", current.querySelector("[name=step_body_html]").value);
    body.append("body_text", current.querySelector("[name=step_body_text]").value);
    body.append("prospect_id", who ? who.value : "");
    const response = await fetch(pane.dataset.src, {
      method: "POST", body, headers: { "X-CSRF-Token": csrf() }, credentials: "same-origin",
    });
    pane.innerHTML = await response.text();
  }
  function later() { clearTimeout(timer); timer = setTimeout(render, 300); }
  steps.addEventListener("input", (event) => {
    current = event.target.closest(".step");
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
