import { describe, expect, it } from "vitest";
import { escapeHtml, renderMarkdown } from "./markdown";

describe("renderMarkdown", () => {
  it("renders headings, paragraphs, lists and bold", () => {
    const html = renderMarkdown("# 标题\n\n第一段\n接着\n\n- **一**\n- 二\n\n1. 甲\n2. 乙\n   续行");
    expect(html).toBe(
      "<h2>标题</h2>\n<p>第一段 接着</p>\n<ul><li><strong>一</strong></li><li>二</li></ul>\n<ol><li>甲</li><li>乙 续行</li></ol>",
    );
  });

  it("escapes HTML in the text, so a lesson cannot inject tags or scripts", () => {
    const html = renderMarkdown('<script>alert(1)</script> <img src=x onerror="y">');
    expect(html).not.toContain("<script");
    expect(html).not.toContain("<img");
    expect(html).toContain("&lt;script&gt;");
  });

  it("resolves images through the resolver and drops unknown ones", () => {
    const html = renderMarkdown("![插线板](../media/a.png)\n\n![缺](../media/none.png)", (ref) =>
      ref.endsWith("a.png") ? "hearth-media://localhost/abc" : null,
    );
    expect(html).toContain('<img src="hearth-media://localhost/abc" alt="插线板">');
    expect(html).toContain('<span class="img-missing">缺</span>');
  });

  it("keeps link text but never makes a link (no remote content)", () => {
    expect(renderMarkdown("[官网](https://example.com)")).toBe("<p>官网</p>");
  });

  it("quotes", () => {
    expect(renderMarkdown("> 注意安全")).toBe("<blockquote>注意安全</blockquote>");
  });
});

describe("escapeHtml", () => {
  it("escapes the five characters", () => {
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe("&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
  });
});
