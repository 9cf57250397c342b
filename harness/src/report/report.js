// The report page's behaviour: the cell panel, the filters, and the #selftest the
// headless-browser test reads back from the DOM. No network, no dependencies.
(function () {
  "use strict";
  const D = JSON.parse(document.getElementById("data").textContent);
  const $ = (id) => document.getElementById(id);
  const panel = $("panel");
  const rows = Array.from(document.querySelectorAll("#matrix tbody tr"));
  const articles = Array.from(document.querySelectorAll("article.change"));
  const TREND = {
    first: "first kernel with a result for this case",
    same: "same as",
    changed: "changed from",
    missing: "no result on this kernel",
  };

  function text(el, s) { el.textContent = s; }

  function renderDiff(pre, diff) {
    pre.replaceChildren();
    for (const line of diff.replace(/\n$/, "").split("\n")) {
      const span = document.createElement("span");
      if (line.startsWith("+++") || line.startsWith("---")) span.className = "file";
      else if (line.startsWith("+")) span.className = "add";
      else if (line.startsWith("-")) span.className = "del";
      else if (line.startsWith("@@")) span.className = "hunk";
      span.textContent = line + "\n";
      pre.appendChild(span);
    }
  }

  function show(ci, ki) {
    const c = D.cases[ci], cell = c.cells[ki], k = D.kernels[ki];
    document.querySelectorAll("td.selected").forEach((td) => td.classList.remove("selected"));
    const td = rows[ci] && rows[ci].querySelector('td[data-k="' + ki + '"]');
    if (td) td.classList.add("selected");
    panel.hidden = false;
    panel.dataset.case = c.id;
    panel.dataset.kernel = k.id;
    text($("panel-title"), c.id + " on " + k.id);
    const prev = cell.p === null ? null : D.kernels[cell.p].id;
    let meta = (k.release || "?") + " · " + (k.accel || "?") + " · " + k.source + " · ";
    meta += cell.t === "same" || cell.t === "changed" ? TREND[cell.t] + " " + prev : TREND[cell.t];
    text($("panel-meta"), meta);
    const problems = $("panel-problems");
    problems.replaceChildren();
    for (const p of cell.x) {
      const li = document.createElement("li");
      li.textContent = p;
      problems.appendChild(li);
    }
    const diff = $("panel-diff");
    if (cell.d) {
      text($("panel-diff-title"), "diff against " + prev);
      renderDiff(diff, cell.d);
    } else {
      text($("panel-diff-title"), "diff against the previous kernel");
      diff.replaceChildren();
      text(diff, prev ? "(identical to " + prev + ")" : "(no earlier kernel to compare with)");
    }
    text($("panel-body"), cell.b === null ? "(no result)" : D.bodies[cell.b]);
  }

  document.getElementById("matrix").addEventListener("click", (ev) => {
    const td = ev.target.closest("td.cell");
    if (!td) return;
    show(Number(td.parentElement.dataset.ci), Number(td.dataset.k));
  });
  document.getElementById("matrix").addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && ev.target.matches("td.cell")) ev.target.click();
  });

  function applyFilters() {
    const only = $("only-diff").checked;
    const type = $("map-type").value;
    let shown = 0;
    for (const tr of rows) {
      tr.hidden = (only && tr.dataset.differs !== "1") || (type !== "" && tr.dataset.type !== type);
      if (!tr.hidden) shown++;
    }
    for (const a of articles) a.hidden = type !== "" && a.dataset.type !== type;
    text($("shown"), shown + " of " + rows.length + " cases shown");
  }
  $("only-diff").addEventListener("change", applyFilters);
  $("map-type").addEventListener("change", applyFilters);
  applyFilters();

  // Drive the page like a person and write what the DOM shows, for the browser test.
  function selftest() {
    const visible = () => rows.filter((r) => !r.hidden).map((r) => r.dataset.case);
    const res = {
      kernels: Array.from(document.querySelectorAll("#matrix th[data-kernel]")).map((th) => th.dataset.kernel),
      cases: rows.map((r) => r.dataset.case),
    };
    const target = document.querySelector("td.cell.changed");
    res.clicked = null;
    if (target) {
      target.click();
      res.clicked = { case: target.parentElement.dataset.case, kernel: D.kernels[Number(target.dataset.k)].id };
      res.panel = {
        visible: !panel.hidden && panel.offsetHeight > 0,
        case: panel.dataset.case,
        kernel: panel.dataset.kernel,
        title: $("panel-title").textContent,
        diff_title: $("panel-diff-title").textContent,
        added: $("panel-diff").querySelectorAll(".add").length,
        removed: $("panel-diff").querySelectorAll(".del").length,
        body_chars: $("panel-body").textContent.length,
      };
    }
    $("only-diff").checked = true;
    applyFilters();
    res.only_differences = visible();
    $("only-diff").checked = false;
    $("map-type").value = "hash";
    applyFilters();
    res.map_type_hash = visible();
    $("map-type").value = "";
    applyFilters();
    const out = $("selftest");
    out.textContent = JSON.stringify(res);
    out.hidden = false;
    // The #selftest anchor scrolls the page to the result once loaded; a screenshot wants
    // the table and the open panel.
    window.addEventListener("load", () => setTimeout(() => window.scrollTo(0, 0), 0));
  }
  if (location.hash === "#selftest") selftest();
})();
