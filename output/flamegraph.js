// SPDX-License-Identifier: MIT
// Interactivity of ember's SVG flamegraph (embedded by output/svg.c after a
// `var ember_cfg = {...}` line): hover tooltip, click to zoom, reset, regex
// search with "Matched: X%", and the zoom and search kept in the URL fragment
// (#x=<px>&y=<px>&s=<regex>) so a link reopens the same view. No network.
"use strict";
(function () {
	var cfg = ember_cfg;
	var svgns = "http://www.w3.org/2000/svg";
	var details = document.getElementById("details");
	var unzoomBtn = document.getElementById("unzoom");
	var searchBtn = document.getElementById("search");
	var icBtn = document.getElementById("ignorecase");
	var matchedText = document.getElementById("matched");
	var frames = [];
	var zoomed = null;
	var searchTerm = null;
	var ignoreCase = false;
	var fullWidth = cfg.width - 2 * cfg.xpad;

	// Each frame remembers its original geometry: zooming rescales from it.
	// Its <title> (the tooltip of viewers without script) moves into the frame
	// record, so the browser's own tooltip does not pop up over ours.
	var groups = document.querySelectorAll("#frames > g.f");
	for (var i = 0; i < groups.length; i++) {
		var g = groups[i];
		var rect = g.querySelector("rect");
		var titleElem = g.querySelector("title");
		var title = titleElem.textContent;
		var m = /^([\s\S]*) \(/.exec(title);
		var f = {
			g: g, rect: rect, text: g.querySelector("text"),
			x: parseFloat(rect.getAttribute("x")),
			w: parseFloat(rect.getAttribute("width")),
			y: parseFloat(rect.getAttribute("y")),
			n: parseFloat(rect.getAttribute("data-n")),
			name: g.classList.contains("m") ? "" : (m ? m[1] : title),
			title: title
		};
		g.emberFrame = f;
		g.setAttribute("data-name", f.name);
		g.removeChild(titleElem);
		frames.push(f);
	}

	// Hover tooltip: name, samples and percentage next to the pointer.
	var svg = document.documentElement;
	var tip = document.createElementNS(svgns, "g");
	var tipRect = document.createElementNS(svgns, "rect");
	var tipText = document.createElementNS(svgns, "text");
	tip.setAttribute("id", "tooltip");
	tip.setAttribute("class", "hide");
	tipRect.setAttribute("rx", "3");
	tipRect.setAttribute("ry", "3");
	tip.appendChild(tipRect);
	tip.appendChild(tipText);
	svg.appendChild(tip);

	function showTip(f, evt) {
		var ctm = svg.getScreenCTM();
		var x = ctm ? (evt.clientX - ctm.e) / ctm.a : evt.clientX;
		var y = ctm ? (evt.clientY - ctm.f) / ctm.d : evt.clientY;
		tipText.textContent = f.title;
		tip.classList.remove("hide");
		var w = tipText.getComputedTextLength() + 12;
		var h = cfg.fontsize + 10;
		// Keep the box inside the image: flip left of the pointer near the edge.
		var tx = x + 14 + w > cfg.width ? Math.max(0, x - 14 - w) : x + 14;
		var ty = y + 20 + h > svg.viewBox.baseVal.height ? y - 10 - h : y + 20;
		tipRect.setAttribute("x", tx.toFixed(1));
		tipRect.setAttribute("y", ty.toFixed(1));
		tipRect.setAttribute("width", w.toFixed(1));
		tipRect.setAttribute("height", h);
		tipText.setAttribute("x", (tx + 6).toFixed(1));
		tipText.setAttribute("y", (ty + h - 7).toFixed(1));
	}

	function fitText(f, x, w) {
		var fit = Math.floor(w / (cfg.fontsize * 0.59));
		var label = "";
		if (f.name && fit >= 3)
			label = f.name.length <= fit ? f.name : f.name.substring(0, fit - 2) + "..";
		f.text.textContent = label;
		f.text.setAttribute("x", (x + 3).toFixed(2));
	}

	function place(f, x, w) {
		f.rect.setAttribute("x", x.toFixed(2));
		f.rect.setAttribute("width", w.toFixed(2));
		fitText(f, x, w);
	}

	// Deeper frames are higher up in a flame graph and lower down in an icicle.
	function below(a, b) { return cfg.inverted ? a.y > b.y : a.y < b.y; }

	function zoom(target, noUrl) {
		var eps = 0.0001;
		var ratio = fullWidth / target.w;
		zoomed = target;
		for (var i = 0; i < frames.length; i++) {
			var f = frames[i];
			var inside = f.x >= target.x - eps && f.x + f.w <= target.x + target.w + eps;
			var covers = f.x <= target.x + eps && f.x + f.w >= target.x + target.w - eps;
			f.g.classList.remove("parent");
			if (f === target || (below(f, target) && inside)) {
				f.g.classList.remove("hide");
				place(f, cfg.xpad + (f.x - target.x) * ratio, f.w * ratio);
			} else if (below(target, f) && covers) {
				f.g.classList.remove("hide");
				f.g.classList.add("parent");
				place(f, cfg.xpad, fullWidth);
			} else {
				f.g.classList.add("hide");
			}
		}
		unzoomBtn.classList.remove("hide");
		if (searchTerm !== null)
			search(searchTerm, true);
		if (!noUrl)
			saveState();
	}

	function unzoom(noUrl) {
		zoomed = null;
		for (var i = 0; i < frames.length; i++) {
			var f = frames[i];
			f.g.classList.remove("parent");
			f.g.classList.remove("hide");
			place(f, f.x, f.w);
		}
		unzoomBtn.classList.add("hide");
		if (searchTerm !== null)
			search(searchTerm, true);
		if (!noUrl)
			saveState();
	}

	function percent(n) { return cfg.total ? (100 * n / cfg.total).toFixed(2) : "0.00"; }

	// Matched share: samples of matching frames, not counting a match nested
	// inside another match (its samples are already in the outer one).
	function search(term, noUrl) {
		var re;
		try {
			re = new RegExp(term, ignoreCase ? "i" : "");
		} catch (e) {
			matchedText.textContent = "Bad regex: " + e.message;
			return null;
		}
		searchTerm = term;
		var hits = [];
		for (var i = 0; i < frames.length; i++) {
			var f = frames[i];
			var hit = f.name !== "" && re.test(f.name) && !f.g.classList.contains("hide");
			f.g.classList.toggle("hl", hit);
			if (hit)
				hits.push(f);
		}
		hits.sort(function (a, b) { return a.x - b.x || b.w - a.w; });
		var sum = 0, end = -1;
		for (var j = 0; j < hits.length; j++) {
			if (hits[j].x + 0.0001 >= end) {
				sum += hits[j].n;
				end = hits[j].x + hits[j].w;
			}
		}
		var base = zoomed ? zoomed.n : cfg.total;
		var pct = base ? (100 * sum / base).toFixed(2) : "0.00";
		matchedText.textContent = "Matched: " + pct + "%";
		searchBtn.classList.add("show");
		searchBtn.textContent = "Reset Search";
		if (!noUrl)
			saveState();
		return pct;
	}

	function resetSearch(noUrl) {
		searchTerm = null;
		for (var i = 0; i < frames.length; i++)
			frames[i].g.classList.remove("hl");
		matchedText.textContent = " ";
		searchBtn.classList.remove("show");
		searchBtn.textContent = "Search";
		if (!noUrl)
			saveState();
	}

	function saveState() {
		var parts = [];
		if (zoomed)
			parts.push("x=" + zoomed.x.toFixed(2), "y=" + zoomed.y.toFixed(1));
		if (searchTerm !== null)
			parts.push("s=" + encodeURIComponent(searchTerm));
		if (ignoreCase)
			parts.push("ic=1");
		var url = location.href.replace(/#.*$/, "") + (parts.length ? "#" + parts.join("&") : "");
		try {
			history.replaceState(null, "", url);
		} catch (e) {
			// Some viewers forbid history changes (e.g. sandboxed <img> or <object>).
		}
	}

	function loadState() {
		var hash = location.hash.replace(/^#/, "");
		var params = {};
		hash.split("&").forEach(function (kv) {
			var at = kv.indexOf("=");
			if (at > 0)
				params[kv.substring(0, at)] = decodeURIComponent(kv.substring(at + 1));
		});
		if (params.ic === "1") {
			ignoreCase = true;
			icBtn.classList.add("show");
		}
		if (params.x !== undefined && params.y !== undefined) {
			var x = parseFloat(params.x), y = parseFloat(params.y);
			for (var i = 0; i < frames.length; i++) {
				var f = frames[i];
				if (Math.abs(f.x - x) < 0.01 && Math.abs(f.y - y) < 0.05) {
					zoom(f, true);
					break;
				}
			}
		}
		if (params.s !== undefined)
			search(params.s, true);
	}

	document.getElementById("frames").addEventListener("click", function (e) {
		var g = e.target.closest ? e.target.closest("g.f") : null;
		if (!g)
			return;
		if (g.emberFrame === zoomed || g.classList.contains("r"))
			unzoom();
		else
			zoom(g.emberFrame);
	});
	document.getElementById("frames").addEventListener("mousemove", function (e) {
		var g = e.target.closest ? e.target.closest("g.f") : null;
		if (!g)
			return;
		details.textContent = g.emberFrame.title;
		showTip(g.emberFrame, e);
	});
	document.getElementById("frames").addEventListener("mouseout", function () {
		details.textContent = " ";
		tip.classList.add("hide");
	});
	unzoomBtn.addEventListener("click", function () { unzoom(); });
	searchBtn.addEventListener("click", function () {
		if (searchTerm !== null) {
			resetSearch();
			return;
		}
		var term = prompt("Search for a frame (regular expression):", "");
		if (term !== null && term !== "")
			search(term);
	});
	icBtn.addEventListener("click", function () {
		ignoreCase = !ignoreCase;
		icBtn.classList.toggle("show", ignoreCase);
		if (searchTerm !== null)
			search(searchTerm);
		else
			saveState();
	});
	window.addEventListener("keydown", function (e) {
		if ((e.ctrlKey || e.metaKey) && e.key === "f") {
			e.preventDefault();
			searchBtn.dispatchEvent(new MouseEvent("click"));
		} else if (e.key === "Escape") {
			resetSearch();
		}
	});

	// For scripts and tests: ember_flamegraph.search("re") returns the percent.
	window.ember_flamegraph = {
		search: function (term) { return search(term); },
		resetSearch: function () { resetSearch(); },
		zoomAt: function (name) {
			for (var i = 0; i < frames.length; i++)
				if (frames[i].name === name) {
					zoom(frames[i]);
					return true;
				}
			return false;
		},
		unzoom: function () { unzoom(); }
	};
	loadState();
})();
