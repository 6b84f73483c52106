/**
 * The topology page: one self-contained HTML document (no CDN, no build step). It is a static
 * shell with nothing about the mesh in it; everything it shows comes from `/bundle/topology.json`,
 * which needs the gateway's token. A browser cannot put a bearer token on a page load, so the page
 * takes it from the URL fragment (`#token=...`, which browsers never send to the server), keeps it
 * in sessionStorage, removes it from the address bar, and asks for it when absent.
 */

export const TOPOLOGY_PATH = "/bundle/topology";
export const TOPOLOGY_JSON_PATH = "/bundle/topology.json";
/** How often the page asks again: well inside the mesh's detection time of a dead link. */
export const POLL_MS = 1000;

const CSS = `
body{font:14px/1.4 system-ui,sans-serif;margin:0;background:#f6f7f9;color:#1d2330}
header{padding:12px 20px;background:#1d2330;color:#fff;display:flex;gap:16px;align-items:baseline;flex-wrap:wrap}
header h1{font-size:18px;margin:0}#updated{opacity:.8;font-size:12px}
main{display:grid;grid-template-columns:minmax(320px,560px) 1fr;gap:16px;padding:16px}
@media(max-width:900px){main{grid-template-columns:1fr}}
section{background:#fff;border-radius:8px;padding:12px;box-shadow:0 1px 3px #0002}
h2{font-size:15px;margin:0 0 8px}svg{width:100%;height:auto}
.legend span{display:inline-block;margin-right:12px;font-size:12px}
.sw{display:inline-block;width:10px;height:10px;border-radius:50%;margin-right:4px;vertical-align:middle}
.card{border:1px solid #d5d9e0;border-left:6px solid #2f8f46;border-radius:6px;padding:8px 10px;margin:0 0 8px}
.card.relay{border-left-color:#c98a00}.card.unreachable{border-left-color:#c62828;background:#fdecea}
.card.self{border-left-color:#1f5fbf}.card h3{margin:0 0 4px;font-size:14px}
.badge{font-size:11px;padding:1px 6px;border-radius:8px;background:#e8ebf0;margin-left:6px}
.unreachable .badge{background:#c62828;color:#fff}dl{margin:0;display:grid;grid-template-columns:70px 1fr;font-size:12px}
dt{color:#667}dd{margin:0}#error{color:#c62828;font-weight:600}
#login{display:none;padding:16px}#login input{width:320px}
`;

const SCRIPT = `
(function(){
  var KEY='clawmatrix-topology-token';
  var m=/[#&]token=([^&]+)/.exec(location.hash);
  if(m){sessionStorage.setItem(KEY,decodeURIComponent(m[1]));history.replaceState(null,'',location.pathname);}
  var COLORS={self:'#1f5fbf',direct:'#2f8f46',relay:'#c98a00',unreachable:'#c62828'};
  var WORDS={self:'this gateway',direct:'linked directly',relay:'reached through a relay',unreachable:'unreachable'};
  function el(tag,attrs,text){var e=document.createElementNS(tag==='svg'||attrs.svg?'http://www.w3.org/2000/svg':'http://www.w3.org/1999/xhtml',tag);
    for(var k in attrs){if(k!=='svg')e.setAttribute(k,attrs[k]);}if(text!==undefined)e.textContent=text;return e;}
  function list(a){return a&&a.length?a.join(', '):'none';}
  function draw(g){
    var svg=document.getElementById('graph');while(svg.firstChild)svg.removeChild(svg.firstChild);
    var n=g.nodes.length,cx=260,cy=200,r=n>1?150:0,pos={};
    g.nodes.forEach(function(node,i){var t=2*Math.PI*i/n-Math.PI/2;pos[node.id]={x:cx+r*Math.cos(t),y:cy+r*Math.sin(t)};});
    g.relays.forEach(function(l){var a=pos[l.a],b=pos[l.b];if(!a||!b)return;
      svg.appendChild(el('line',{svg:1,x1:a.x,y1:a.y,x2:b.x,y2:b.y,stroke:'#c98a00','stroke-width':2,'stroke-dasharray':'6 5','data-relay':l.a+'|'+l.b,'data-via':l.via.join(',')}));
      svg.appendChild(el('text',{svg:1,x:(a.x+b.x)/2,y:(a.y+b.y)/2-6,'text-anchor':'middle','font-size':11,fill:'#8a5d00'},'relayed via '+l.via.join(', ')));});
    g.links.forEach(function(l){var a=pos[l.a],b=pos[l.b];if(!a||!b)return;
      svg.appendChild(el('line',{svg:1,x1:a.x,y1:a.y,x2:b.x,y2:b.y,stroke:'#2f8f46','stroke-width':3,'data-link':l.a+'|'+l.b}));
      svg.appendChild(el('text',{svg:1,x:(a.x+b.x)/2,y:(a.y+b.y)/2+14,'text-anchor':'middle','font-size':11,fill:'#234'},l.rttMs+' ms'));});
    g.nodes.forEach(function(node){var p=pos[node.id];
      var grp=el('g',{svg:1,'data-node':node.id,'data-status':node.status});
      grp.appendChild(el('circle',{svg:1,cx:p.x,cy:p.y,r:26,fill:COLORS[node.status],stroke:'#fff','stroke-width':3}));
      grp.appendChild(el('text',{svg:1,x:p.x,y:p.y+44,'text-anchor':'middle','font-size':13,'font-weight':600},node.id));
      if(node.status==='unreachable')grp.appendChild(el('text',{svg:1,x:p.x,y:p.y+5,'text-anchor':'middle','font-size':20,fill:'#fff'},'\\u2715'));
      svg.appendChild(grp);});
  }
  function cards(g){
    var box=document.getElementById('nodes');box.textContent='';
    g.nodes.forEach(function(node){
      var c=el('div',{'class':'card '+node.status,'data-card':node.id,'data-status':node.status});
      var h=el('h3',{},node.id);h.appendChild(el('span',{'class':'badge'},node.status==='relay'&&node.via?'relay via '+node.via:WORDS[node.status]));c.appendChild(h);
      var dl=el('dl',{});
      [['round trip',node.status==='self'?'-':node.latencyMs!==undefined?node.latencyMs+' ms':'-'],['tags',list(node.tags)],['agents',list(node.agents)],['models',list(node.models)]]
        .forEach(function(kv){dl.appendChild(el('dt',{},kv[0]));dl.appendChild(el('dd',{},kv[1]));});
      c.appendChild(dl);box.appendChild(c);});
  }
  function tick(){
    var token=sessionStorage.getItem(KEY);
    if(!token){document.getElementById('login').style.display='block';return setTimeout(tick,${POLL_MS});}
    fetch('${TOPOLOGY_JSON_PATH}',{headers:{authorization:'Bearer '+token},cache:'no-store'}).then(function(r){
      if(r.status===401){sessionStorage.removeItem(KEY);throw new Error('the token was refused (401): enter the gateway token again');}
      if(!r.ok)throw new Error('the gateway answered '+r.status);return r.json();
    }).then(function(g){
      document.getElementById('error').textContent='';document.getElementById('login').style.display='none';
      document.getElementById('self').textContent='mesh seen from '+g.self+' ('+g.state+')';
      document.getElementById('updated').textContent='updated '+new Date(g.at).toLocaleTimeString()+', every ${POLL_MS / 1000} s';
      document.body.setAttribute('data-updated',g.at);draw(g);cards(g);
    }).catch(function(e){document.getElementById('error').textContent='cannot read the mesh: '+e.message;})
      .then(function(){setTimeout(tick,${POLL_MS});});
  }
  document.getElementById('login-form').addEventListener('submit',function(ev){ev.preventDefault();
    sessionStorage.setItem(KEY,document.getElementById('token').value.trim());document.getElementById('login').style.display='none';});
  tick();
})();
`;

export const TOPOLOGY_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>ClawMatrix mesh</title><style>${CSS}</style></head>
<body>
<header><h1>ClawMatrix mesh</h1><span id="self">loading...</span><span id="updated"></span><span id="error"></span></header>
<div id="login"><form id="login-form">This page needs the gateway's token (OPENCLAW_GATEWAY_TOKEN); it stays in this tab only.
<br><input id="token" type="password" autocomplete="off" placeholder="gateway token"> <button>Show the mesh</button></form></div>
<main>
<section><h2>Map</h2>
<div class="legend"><span><i class="sw" style="background:#1f5fbf"></i>this gateway</span><span><i class="sw" style="background:#2f8f46"></i>linked directly (solid line: a live link and its round trip)</span>
<span><i class="sw" style="background:#c98a00"></i>reached through a relay (dashed: no link of its own)</span><span><i class="sw" style="background:#c62828"></i>unreachable</span></div>
<svg id="graph" viewBox="0 0 520 420" role="img" aria-label="mesh map"></svg></section>
<section><h2>Nodes</h2><div id="nodes"></div></section>
</main>
<script>${SCRIPT}</script>
</body></html>
`;
