/** The console's stylesheet: one small file, no framework; a narrow screen stacks tables into cards. */
export const CONSOLE_CSS = `
:root{--bg:#f7f7f8;--fg:#1d1d1f;--muted:#6b6b75;--line:#dcdce2;--accent:#2c5fd6;--ok:#1d7a3a;--bad:#b3261e;--warn:#9a6700;--card:#fff;font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;font-size:15px}
*{box-sizing:border-box}body{margin:0;background:var(--bg);color:var(--fg)}
header{display:flex;flex-wrap:wrap;align-items:center;gap:.4rem 1.2rem;padding:.6rem 1rem;background:#20242c;color:#fff}
header a{color:#cfd8ea;text-decoration:none}header a.on{color:#fff;font-weight:600}header .who{margin-left:auto;font-size:.85rem;color:#aab}
header form{display:inline}header button{background:none;border:1px solid #556;color:#ccd;border-radius:4px;padding:.15rem .5rem;cursor:pointer}
main{padding:1rem;max-width:1200px;margin:0 auto}h1{font-size:1.3rem;margin:.2rem 0 1rem}h2{font-size:1.05rem;margin:1.4rem 0 .5rem}
.banner{padding:.6rem 1rem;margin-bottom:1rem;border-radius:6px;background:#fdecea;color:var(--bad);border:1px solid #f3b4ae}
.note{padding:.5rem .8rem;border-radius:6px;background:#eef3fd;border:1px solid #c9d6f5;margin:.6rem 0}
.card{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:.8rem;margin-bottom:1rem;overflow-x:auto}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.35rem .5rem;border-bottom:1px solid var(--line);vertical-align:top}
th{font-size:.8rem;color:var(--muted);font-weight:600}td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:.85rem}code{overflow-wrap:anywhere}pre{white-space:pre-wrap;word-break:break-word;background:#f3f3f6;padding:.6rem;border-radius:6px;max-height:32rem;overflow:auto}
.status{display:inline-block;padding:.05rem .45rem;border-radius:10px;font-size:.8rem;background:#e8e8ee}
.status.succeeded{background:#dcf3e3;color:var(--ok)}.status.failed,.status.dead-lettered{background:#fbe1df;color:var(--bad)}.status.retrying,.status.running{background:#fff2cc;color:var(--warn)}
form.filters{display:flex;flex-wrap:wrap;gap:.5rem;align-items:end}form.filters label{display:flex;flex-direction:column;font-size:.8rem;color:var(--muted)}
input,select,button{font:inherit;padding:.3rem .5rem;border:1px solid var(--line);border-radius:5px;background:#fff}
button{cursor:pointer}button.primary{background:var(--accent);color:#fff;border-color:var(--accent)}button.danger{background:var(--bad);color:#fff;border-color:var(--bad)}
button[disabled]{opacity:.5;cursor:default}.actions{display:flex;flex-wrap:wrap;gap:.4rem;align-items:center;margin:.4rem 0}
.result{margin:.4rem 0;font-size:.9rem}.result.err{color:var(--bad)}.result.ok{color:var(--ok)}
.bar{width:10rem;height:.8rem;vertical-align:middle}
.muted{color:var(--muted)}.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(260px,1fr));gap:1rem}
.login{max-width:24rem;margin:3rem auto}.login input{width:100%;margin:.4rem 0 .8rem}
@media (max-width:700px){main{padding:.6rem}table.stack thead{display:none}table.stack tr{display:block;border:1px solid var(--line);border-radius:6px;margin-bottom:.5rem;padding:.3rem}
table.stack td{display:flex;justify-content:space-between;gap:1rem;border:none;padding:.2rem .4rem}table.stack td::before{content:attr(data-label);color:var(--muted);font-size:.8rem}td.num{text-align:right}}
`;
