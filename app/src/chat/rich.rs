//! A message's text with its formatting (`crate::format`), drawn as elements: text nodes,
//! `strong`, `em`, `code`, `pre`, mentions (marked apart when they name the reader), and links
//! to http(s) addresses that open in a new tab without handing the page to whatever they
//! open. Nothing is ever inserted as HTML.

use leptos::prelude::*;

use super::use_chat;
use crate::format::{Block, Inline, is_web_address, parse};

/// `text`, formatted.
#[component]
pub fn RichText(text: String) -> impl IntoView {
    let me = use_chat().me.get_untracked().map(|u| u.name.to_lowercase());
    parse(&text)
        .into_iter()
        .map(|block| match block {
            Block::Text(inlines) => {
                view! { <span class="prose">{runs(inlines, me.as_deref())}</span> }.into_any()
            }
            Block::Code(code) => view! { <pre><code>{code}</code></pre> }.into_any(),
        })
        .collect_view()
}

/// `inlines` as elements; `me`: the reader's name in lower case, whose mentions stand out.
fn runs(inlines: Vec<Inline>, me: Option<&str>) -> AnyView {
    inlines
        .into_iter()
        .map(|inline| match inline {
            Inline::Text(text) => text.into_any(),
            Inline::Code(code) => view! { <code>{code}</code> }.into_any(),
            Inline::Bold(inner) => view! { <strong>{runs(inner, me)}</strong> }.into_any(),
            Inline::Italic(inner) => view! { <em>{runs(inner, me)}</em> }.into_any(),
            Inline::Mention(name) => {
                let mine = me == Some(name.to_lowercase().as_str());
                view! { <span class="mention" class:me=mine>"@" {name}</span> }.into_any()
            }
            Inline::Link(href) if is_web_address(&href) => {
                let shown = href.clone();
                view! {
                    <a href=href target="_blank" rel="noopener noreferrer nofollow">
                        {shown}
                    </a>
                }
                .into_any()
            }
            Inline::Link(text) => text.into_any(),
        })
        .collect_view()
        .into_any()
}

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use super::*;

    /// The HTML the server renders for `text`, without hydration's `<!>` markers.
    fn html(text: &str) -> String {
        Owner::new()
            .with(|| view! { <RichText text=text.to_owned()/> }.to_html())
            .replace("<!>", "")
    }

    #[test]
    fn formatting_becomes_elements() {
        assert_eq!(
            html("**hi** _there_ `x`"),
            "<span class=\"prose\"><strong>hi</strong> <em>there</em> <code>x</code></span>"
        );
        assert_eq!(
            html("go https://example.com/?a=1&b=2"),
            "<span class=\"prose\">go <a href=\"https://example.com/?a=1&amp;b=2\" \
             target=\"_blank\" rel=\"noopener noreferrer nofollow\">https://example.com/?a=1&amp;b=2</a></span>"
        );
    }

    #[test]
    fn a_mention_of_the_reader_stands_out() {
        let html = Owner::new()
            .with(|| {
                let chat = crate::chat::state::Chat::new();
                chat.me.set(Some(crate::protocol::User {
                    id: 2,
                    name: "Bob".into(),
                }));
                provide_context(chat);
                view! { <RichText text="@bob, ask @carol".to_owned()/> }.to_html()
            })
            .replace("<!>", "");
        assert_eq!(
            html,
            "<span class=\"prose\"><span class=\"mention me\">@bob</span>, ask \
             <span class=\"mention\">@carol</span></span>"
        );
    }

    /// Filter-evasion strings of the kind collected by OWASP's XSS cheat sheet: none may
    /// become markup, an event handler, or a link that is not http(s).
    const XSS: &[&str] = &[
        "<script>alert('XSS')</script>",
        "<SCRIPT SRC=https://xss.example/xss.js></SCRIPT>",
        "<IMG SRC=\"javascript:alert('XSS');\">",
        "<IMG SRC=javascript:alert('XSS')>",
        "<IMG SRC=JaVaScRiPt:alert('XSS')>",
        "<IMG SRC=`javascript:alert(\"RSnake says, 'XSS'\")`>",
        "<a onmouseover=\"alert(document.cookie)\">xxs link</a>",
        "<IMG \"\"\"><SCRIPT>alert(\"XSS\")</SCRIPT>\"\\>",
        "<IMG SRC=/ onerror=\"alert(String.fromCharCode(88,83,83))\"></img>",
        "<img src=x onerror=\"&#0000106&#0000097&#0000118&#0000097&#0000115&#0000099&#0000114&#0000105&#0000112&#0000116&#0000058&#0000097&#0000108&#0000101&#0000114&#0000116&#0000040&#0000039&#0000088&#0000083&#0000083&#0000039&#0000041\">",
        "<IMG SRC=\"jav\tascript:alert('XSS');\">",
        "<IMG SRC=\"jav&#x0A;ascript:alert('XSS');\">",
        "<SCRIPT/XSS SRC=\"http://xss.example/xss.js\"></SCRIPT>",
        "<BODY onload!#$%&()*~+-_.,:;?@[/|\\]^`=alert(\"XSS\")>",
        "<<SCRIPT>alert(\"XSS\");//\\<</SCRIPT>",
        "<iframe src=http://xss.example/scriptlet.html <",
        "</TITLE><SCRIPT>alert(\"XSS\");</SCRIPT>",
        "<INPUT TYPE=\"IMAGE\" SRC=\"javascript:alert('XSS');\">",
        "<svg/onload=alert('XSS')>",
        "<STYLE>@import'http://xss.example/xss.css';</STYLE>",
        "<META HTTP-EQUIV=\"refresh\" CONTENT=\"0;url=javascript:alert('XSS');\">",
        "<TABLE BACKGROUND=\"javascript:alert('XSS')\">",
        "<DIV STYLE=\"background-image: url(javascript:alert('XSS'))\">",
        "<a href=\"javascript:alert(1)\">**bold** click</a>",
        "[click](javascript:alert(1))",
        "javascript:alert(1)",
        "https://example.com/\"onmouseover=\"alert(1)",
        "https://example.com/'onmouseover='alert(1)",
        "https://example.com/<script>alert(1)</script>",
        "http://example.com/`onmouseover=alert(1)`",
        "`<script>alert(1)</script>`",
        "```\n<script>alert(1)</script>\n```",
        "**<img src=x onerror=alert(1)>**",
        "_<svg onload=alert(1)>_",
        "&lt;script&gt;alert(1)&lt;/script&gt;",
        "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
        "https://\u{202e}gpj.exe",
        "\u{0}<script>",
    ];

    /// Every element `html` holds, with its attributes: (tag, [(name, value)]).
    fn elements(html: &str) -> Vec<(String, Vec<(String, String)>)> {
        let mut found = Vec::new();
        let mut rest = html;
        while let Some(open) = rest.find('<') {
            let tag_end = rest[open..].find('>').expect("a tag ends") + open;
            let tag = &rest[open + 1..tag_end];
            rest = &rest[tag_end + 1..];
            assert!(!tag.starts_with('!'), "a comment or declaration in {html}");
            if tag.starts_with('/') {
                continue;
            }
            let name: String = tag
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric())
                .collect();
            let mut attributes = Vec::new();
            let mut attrs = &tag[name.len()..];
            while let Some(eq) = attrs.find("=\"") {
                let key = attrs[..eq].trim().to_owned();
                let close = attrs[eq + 2..].find('"').expect("a value ends") + eq + 2;
                attributes.push((key, attrs[eq + 2..close].to_owned()));
                attrs = &attrs[close + 1..];
            }
            assert!(
                attrs.trim().is_empty(),
                "stray attribute text {attrs:?} in {html}"
            );
            found.push((name, attributes));
        }
        found
    }

    #[test]
    fn no_xss_filter_evasion_string_becomes_markup_a_handler_or_another_link() {
        for &attack in XSS {
            let html = html(attack);
            for (tag, attributes) in elements(&html) {
                assert!(
                    ["span", "strong", "em", "code", "pre", "a"].contains(&tag.as_str()),
                    "<{tag}> from {attack:?}: {html}"
                );
                for (name, value) in attributes {
                    match (tag.as_str(), name.as_str()) {
                        ("span", "class") => {
                            assert!(["prose", "mention"].contains(&value.as_str()), "{value}")
                        }
                        ("a", "href") => assert!(
                            value.starts_with("http://") || value.starts_with("https://"),
                            "href {value:?} from {attack:?}"
                        ),
                        ("a", "target") => assert_eq!(value, "_blank"),
                        ("a", "rel") => assert_eq!(value, "noopener noreferrer nofollow"),
                        _ => panic!("attribute {name}={value:?} on <{tag}> from {attack:?}"),
                    }
                }
            }
        }
    }
}
