"""Synthetic Chinese policy pages for bench/crawl.py.

Two markup families, modelled on monitor/demo_site: 本地宝 desktop articles
(div.content#bo, div.leading, related/hot lists) and TRS government notices
(meta ArticleTitle/PubDate, #zoom .TRS_Editor). Every page gets its own main
text (numbers, dates, cities and sentence choice vary with a per-page seed).
About 21% are GBK-encoded (18% declared with a charset meta, 3% with no meta
at all) and 1% are UTF-8 with no charset meta.
"""
from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from pathlib import Path

CITIES = [("太原", "ty"), ("晋中", "jz"), ("大同", "dt"), ("长治", "cz"), ("临汾", "lf"), ("运城", "yc"),
          ("忻州", "xz"), ("吕梁", "ll"), ("阳泉", "yq"), ("朔州", "sz"), ("晋城", "jc"), ("石家庄", "sjz"),
          ("郑州", "zz"), ("西安", "xa"), ("济南", "jn"), ("合肥", "hf"), ("南昌", "nc"), ("长沙", "cs")]
TOPICS = ["居民医保缴费", "职工医保报销", "灵活就业参保", "住房公积金提取", "居住证办理", "新生儿参保登记",
          "门诊慢特病认定", "异地就医备案", "生育津贴申领", "失业保险金领取", "高温补贴发放", "养老金资格认证",
          "大病保险报销", "医疗救助申请", "公租房申请", "义务教育入学报名", "个税专项附加扣除", "社保卡补办"]
DEPTS = ["医疗保障局", "人力资源和社会保障局", "住房公积金管理中心", "财政局", "民政局", "税务局", "教育局"]
CHANNELS = ["微信小程序", "支付宝城市服务", "协作银行手机APP", "移动POS机", "社区代收点", "银行柜台", "政务服务网"]
GROUPS = ["新生儿", "在校大学生", "农村低收入人口", "脱贫人口", "特困人员", "低保对象", "灵活就业人员",
          "退役军人", "重度残疾人", "失业人员"]

SENTENCES = [
    "{city}{year}年度{topic}的办理时间为{y0}年{m0}月{d0}日至{y1}年{m1}月{d1}日，集中办理期为每月1-{d2}号。",
    "个人缴费标准为每人每年{fee}元，各级财政补助标准不低于每人每年{sub}元，其余部分由统筹基金承担。",
    "逾期办理的参保人员将设置{wait}天待遇享受等待期，等待期内发生的医疗费用不予报销。",
    "参保人可以通过{ch0}、{ch1}或者{ch2}等渠道办理，任选其一即可，办理成功后可在“缴费记录”中查询。",
    "{grp0}、{grp1}和{grp2}参加居民医保，不设待遇享受等待期，完成参保后即可按规定享受待遇。",
    "在一级及以下定点医疗机构就诊的，门诊统筹报销比例为{pct0}%，年度支付限额为{lim}元。",
    "住院费用在起付线{start}元以上、{cap}万元以下的部分，按{pct1}%的比例由统筹基金支付。",
    "符合条件的申请人应在{m0}月{d0}日前向户籍所在地{dept}提交申请材料，逾期不再受理。",
    "所需材料包括本人身份证原件及复印件、{doc}以及近{months}个月的银行流水，材料不全的需补齐后再受理。",
    "每月{d2}日至月底系统进行数据对账，这几天通常无法办理，建议在当月{d3}号之前完成操作。",
    "据{dept}统计，截至{y0}年{m0}月底，全市已有{people}万人完成{topic}，完成率为{pct2}%。",
    "咨询电话：0{area}-{tel}（工作日{h0}:00-{h1}:30），也可以到各区县政务服务大厅{dept}窗口现场咨询。",
    "职工医保停缴后{months}个月以内转为参加居民医保的人员，同样不受等待期限制，可以连续享受待遇。",
    "本年度补贴标准为每人每月{allow}元，按实际工作天数计发，由用人单位随工资一并发放。",
    "申请人账户余额不足{fee}元的，可以先行补缴，补缴部分按照{y0}年度标准执行，不收取滞纳金。",
    "文件编号为{dept_short}发〔{y0}〕{docno}号，自{y1}年{m1}月{d1}日起施行，有效期{years}年。",
]
DOCS = ["户口簿", "居住证", "结婚证", "出生医学证明", "劳动合同", "诊断证明书", "住院费用清单", "社保卡"]


@dataclass
class Page:
    path: str          # URL path, e.g. /p/0001.html
    body: bytes
    encoding: str      # utf-8 | gbk
    has_meta: bool
    family: str        # bendibao | gov
    text_sha: str      # sha256 of the generated main-text paragraphs


def _fill(rng: random.Random, city: str, topic: str, year: int, n: int) -> str:
    t = rng.choice(SENTENCES)
    ch = rng.sample(CHANNELS, 3)
    grp = rng.sample(GROUPS, 3)
    dept = rng.choice(DEPTS)
    return t.format(
        city=city, topic=topic, year=year + 1, y0=year, y1=year + 1, m0=rng.randint(1, 12), m1=rng.randint(1, 12),
        d0=rng.randint(1, 28), d1=rng.randint(1, 28), d2=rng.randint(20, 28), d3=rng.randint(15, 25),
        fee=rng.choice([320, 350, 380, 400, 420]) + rng.randint(0, 9) * 10, sub=rng.randint(600, 700),
        wait=rng.choice([30, 60, 90, 180]), ch0=ch[0], ch1=ch[1], ch2=ch[2], grp0=grp[0], grp1=grp[1],
        grp2=grp[2], pct0=rng.randint(50, 70), lim=rng.randint(3, 12) * 100, start=rng.randint(3, 12) * 100,
        cap=rng.randint(10, 40), pct1=rng.randint(55, 90), dept=dept, doc=rng.choice(DOCS),
        months=rng.randint(2, 12), people=round(rng.uniform(10, 500), 1), pct2=round(rng.uniform(60, 99), 1),
        area=rng.randint(100, 999), tel=rng.randint(1000000, 9999999), h0=rng.randint(8, 9),
        h1=rng.randint(16, 17), allow=rng.randint(200, 600), dept_short=city[0] + dept[:2],
        docno=n % 97 + 1, years=rng.randint(2, 5))


def _paragraphs(rng: random.Random, city: str, topic: str, year: int, n: int, count: int) -> list[str]:
    paras = []
    for k in range(count):
        if k % 5 == 0:
            paras.append(f"<strong>{'一二三四五六七八九十'[min(k // 5, 9)]}、{city}{topic}{rng.choice(['时间', '标准', '渠道', '材料', '流程', '待遇'])}是怎样规定的？</strong>")
        else:
            paras.append("".join(_fill(rng, city, topic, year, n + k) for _ in range(rng.randint(2, 4))))
    # Makes the main text unique even if the random draw repeated itself.
    paras.append(f"本文编号：{year}-{n:05d}，内容仅供参考，具体以{city}{rng.choice(DEPTS)}公布的最新规定为准。")
    return paras


def _related(rng: random.Random, city: str, cpy: str, year: int, count: int) -> list[str]:
    items = []
    for _ in range(count):
        c, p = rng.choice(CITIES)
        topic = rng.choice(TOPICS)
        m, d, nid = rng.randint(1, 12), rng.randint(1, 28), rng.randint(10000, 99999)
        desc = _fill(rng, c, topic, year, nid)
        items.append(f'<li><a class="tit" href="http://{p}.bendibao.com/live/{year}{m}{d:02d}/{nid}.shtm" '
                     f'target="_blank">{c}{topic}{rng.choice(["指南", "时间", "条件", "流程", "标准"])}</a>'
                     f'<p class="desc">{desc}</p><span class="date">{year}-{m:02d}-{d:02d}</span></li>')
    return items


def bendibao(rng: random.Random, n: int, charset: str | None, target: int, gbk: bool) -> tuple[str, str]:
    city, cpy = CITIES[n % len(CITIES)]
    topic = TOPICS[(n // len(CITIES)) % len(TOPICS)]
    year = 2023 + n % 3
    nid = 60000 + n
    m, d, hh, mm = rng.randint(1, 12), rng.randint(1, 28), rng.randint(8, 18), rng.randint(0, 59)
    title = f"{city}{topic}{rng.choice(['截止日期是什么时候', '需要哪些材料', '怎么办理', '标准是多少', '流程详解'])}?（{n}）"
    paras = _paragraphs(rng, city, topic, year, n, rng.randint(14, 30))
    main = "\n".join(f"      <p>　　{p}</p>" for p in paras)
    meta = f'<meta http-equiv="Content-Type" content="text/html; charset={charset}" />\n' if charset else ""
    head = f"""<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">
<html xmlns="http://www.w3.org/1999/xhtml">
<head>
{meta}<meta http-equiv="X-UA-Compatible" content="IE=edge,chrome=1" />
<title>{title}_{city}本地宝</title>
<meta name="keywords" content="{city}{topic},{city}医保,{city}社保" />
<meta name="description" content="{_fill(rng, city, topic, year, n)}" />
<link rel="canonical" href="http://{cpy}.bendibao.com/live/{year}{m}{d:02d}/{nid}.shtm" />
<link rel="stylesheet" type="text/css" href="//static.bendibao.com/common/css/news_show.css?v={year}0812" />
<style type="text/css">
.wrap{{width:1200px;margin:0 auto;}} .crumbs{{height:36px;line-height:36px;color:#999;font-size:13px;}}
.title h1{{font-size:28px;color:#222;line-height:42px;margin:10px 0 6px;}} .time{{color:#999;font-size:13px;}}
.leading{{background:#f7f7f7;border-left:3px solid #3a8ee6;padding:10px 14px;margin:16px 0;color:#555;}}
.content{{font-size:16px;line-height:30px;color:#333;}} .content p{{margin:12px 0;}}
.relate-list li,.hot-list li{{border-bottom:1px dashed #e5e5e5;padding:10px 0;}}
</style>
<script type="text/javascript">var cityname = "{city}", citypy = "{cpy}", newsid = "{nid}", lmid = "live";</script>
<script type="text/javascript" src="//static.bendibao.com/common/js/jquery-1.8.3.min.js"></script>
</head>
<body>
<div class="topbar" id="topbar"><div class="wrap clearfix">
  <div class="topbar-left"><a href="http://www.bendibao.com/">本地宝</a><span class="sep">|</span><a href="http://{cpy}.bendibao.com/" class="cur-city">{city}</a></div>
  <div class="topbar-right"><a href="http://{cpy}.bendibao.com/news/">资讯</a><a href="http://{cpy}.bendibao.com/live/">办事</a><a href="http://{cpy}.bendibao.com/zffw/">便民</a><a href="http://{cpy}.bendibao.com/edu/">教育</a><a href="http://m.{cpy}.bendibao.com/" class="mobile-link">手机版</a></div>
</div></div>
<div class="header"><div class="wrap clearfix">
  <div class="logo"><a href="http://{cpy}.bendibao.com/"><img src="//imgbdb3.bendibao.com/common/logo/{cpy}_logo.png" alt="{city}本地宝" /></a></div>
  <div class="search-box"><form action="http://sou.bendibao.com/cse/search" method="get"><input type="text" name="q" placeholder="搜索{city}办事指南" /><button type="submit">搜索</button></form>
  <p class="hot-words">热搜：<a href="#">居民医保</a><a href="#">公积金提取</a><a href="#">社保查询</a><a href="#">居住证</a></p></div>
</div></div>
<div class="nav" id="mainnav"><div class="wrap"><ul class="nav-list clearfix">
  <li><a href="http://{cpy}.bendibao.com/">首页</a></li><li><a href="http://{cpy}.bendibao.com/live/list_1_1.shtm">社保</a></li>
  <li class="on"><a href="http://{cpy}.bendibao.com/live/list_1_2.shtm">医保</a></li><li><a href="http://{cpy}.bendibao.com/live/list_2_1.shtm">公积金</a></li>
  <li><a href="http://{cpy}.bendibao.com/live/list_3_1.shtm">户籍</a></li><li><a href="http://{cpy}.bendibao.com/live/list_4_1.shtm">居住证</a></li>
</ul></div></div>
<div class="wrap main clearfix">
  <div class="crumbs" id="crumbs"><a href="http://{cpy}.bendibao.com/">{city}本地宝</a> &gt; <a href="http://{cpy}.bendibao.com/live/">办事指南</a> &gt; <span>{title}</span></div>
  <div class="main-left">
    <div class="title"><h1>{title}</h1>
      <div class="time">{year}-{m:02d}-{d:02d} {hh:02d}:{mm:02d}<a href="http://{cpy}.bendibao.com/jiucuo.php?id={nid}" rel="nofollow" class="jiucuo">【我要纠错】</a></div></div>
    <div class="leading"><span>【导语】：</span>{_fill(rng, city, topic, year, n)}下面把时间、标准和几类特殊人群的规定一次说清楚。</div>
    <div class="content" id="bo">
{main}
      <div class="adbox" id="ad_content_mid"><script type="text/javascript">bdb_ad.show("{cpy}_pc_content_mid");</script><span class="ad-tag">广告</span></div>
      <p class="tishi" style="color:#c00;">温馨提示：微信搜索公众号【{city}本地宝】，关注后在对话框回复【{topic[:4]}】，即可获取最新办事指引。</p>
      <div class="ewm-box" id="ewm"><img src="//imgbdb3.bendibao.com/{cpy}bdb/ewm/qrcode.jpg" alt="{city}本地宝微信二维码" /><p class="ewm-txt">扫一扫 关注{city}本地宝微信公众号</p></div>
    </div>
    <div class="article-tool clearfix"><span class="hits">阅读 <em id="hits">{rng.randint(100, 99999)}</em></span>
      <div class="bdsharebuttonbox share" id="share"><span class="share-txt">分享到：</span><a href="#" class="bds_weixin"></a><a href="#" class="bds_tsina"></a></div></div>
    <div class="relate-list" id="relate"><div class="hd"><h3>相关推荐</h3></div>
      <ul class="list-txt">
"""
    tail = f"""      </ul>
    </div>
  </div>
  <div class="main-right" id="sidebar"><div class="side-box side-list"><h4>{city}办事热点</h4><ul>
{"".join(f'<li><a href="http://{cpy}.bendibao.com/live/{year}{k:02d}/{nid - k}.shtm">{city}{TOPICS[k % len(TOPICS)]}</a></li>' for k in range(1, 9))}
  </ul></div></div>
</div>
<div class="footer" id="footer"><div class="wrap">
  <p class="footer-nav"><a href="http://www.bendibao.com/about/">关于本地宝</a> | <a href="http://www.bendibao.com/about/contact.htm">联系我们</a> | <a href="http://www.bendibao.com/about/mianze.htm">免责声明</a></p>
  <p>本站所有内容仅供参考，具体办理以相关部门最新规定为准。</p>
  <p>Copyright &copy; 2005-{year} {city}本地宝 {cpy}.bendibao.com All Rights Reserved</p>
</div></div>
<script type="text/javascript">var _hmt = _hmt || []; (function() {{ var hm = document.createElement("script"); hm.src = "//stat.example-analytics.cn/hm.js?site={cpy}"; document.body.appendChild(hm); }})();</script>
</body>
</html>
"""
    return _pad(rng, head, tail, target, lambda: _related(rng, city, cpy, year, 1)[0], charset, gbk), "\n".join(paras)


def gov(rng: random.Random, n: int, charset: str | None, target: int, gbk: bool) -> tuple[str, str]:
    city, cpy = CITIES[(n * 7) % len(CITIES)]
    dept = DEPTS[n % len(DEPTS)]
    topic = TOPICS[(n * 5) % len(TOPICS)]
    year = 2023 + n % 3
    m, d = rng.randint(1, 12), rng.randint(1, 28)
    title = f"关于做好{year + 1}年度{city}{topic}工作的通知（第{n}号）"
    paras = _paragraphs(rng, city, topic, year, n, rng.randint(12, 26))
    main = "\n".join(f"      <p>{p}</p>" for p in paras)
    meta = f'<meta charset="{charset}">\n' if charset else ""
    head = f"""<!DOCTYPE html>
<html>
<head>
{meta}<meta http-equiv="X-UA-Compatible" content="IE=edge">
<meta name="SiteName" content="{city}{dept}">
<meta name="SiteDomain" content="{cpy}.gov.cn">
<meta name="ColumnName" content="通知公告">
<meta name="ArticleTitle" content="{title}">
<meta name="PubDate" content="{year}-{m:02d}-{d:02d} {rng.randint(8, 18):02d}:{rng.randint(0, 59):02d}">
<meta name="ContentSource" content="{city}{dept}">
<meta name="Keywords" content="{topic},通知公告">
<meta name="Description" content="{title}">
<title>{title}_{city}{dept}</title>
<link rel="stylesheet" type="text/css" href="/{cpy}/images/common.css">
<style>
.detail{{width:1200px;margin:18px auto;background:#fff;padding:30px 60px;box-sizing:border-box;}}
.detail-title{{font-size:26px;color:#1d5fb4;text-align:center;line-height:40px;font-weight:bold;}}
#zoom{{font-size:16px;line-height:32px;color:#333;}} #zoom p{{text-indent:2em;margin:8px 0;}}
</style>
<script src="/{cpy}/images/jquery-1.12.4.min.js"></script>
</head>
<body>
<div class="top-bar"><div class="w1200"><span class="today" id="today"></span>
  <div class="top-links"><a href="javascript:void(0);" id="wza_btn">无障碍浏览</a><a href="javascript:void(0);">设为首页</a><a href="javascript:void(0);">加入收藏</a></div></div></div>
<div class="header"><div class="w1200"><div class="logo"><a href="/{cpy}/"><img src="/{cpy}/images/logo.png" alt="{city}{dept}"></a></div>
  <div class="search"><form action="/{cpy}/search/" method="get"><input type="text" name="searchword" placeholder="请输入关键字"><input type="submit" value="搜索"></form></div></div></div>
<div class="nav"><ul class="w1200"><li><a href="/{cpy}/">首页</a></li><li><a href="/{cpy}/jggk/">机构概况</a></li><li class="on"><a href="/{cpy}/xwdt/">新闻动态</a></li>
  <li><a href="/{cpy}/zwgk/">政务公开</a></li><li><a href="/{cpy}/zcfg/">政策法规</a></li><li><a href="/{cpy}/zcjd/">政策解读</a></li><li><a href="/{cpy}/hdjl/">互动交流</a></li></ul></div>
<div class="position w1200">当前位置：<a href="/{cpy}/">首页</a> &gt; <a href="/{cpy}/xwdt/">新闻动态</a> &gt; <a href="../">通知公告</a></div>
<div class="detail">
  <div class="detail-title">{title}</div>
  <div class="detail-info"><span>发布时间：{year}-{m:02d}-{d:02d}</span><span>来源：{city}{dept}</span><span>浏览次数：<em id="clicknum">{rng.randint(100, 9999)}</em></span>
    <span class="font-size">字号：<a href="javascript:doZoom(18);">大</a> <a href="javascript:doZoom(16);">中</a> <a href="javascript:doZoom(14);">小</a></span></div>
  <div id="zoom">
    <div class="TRS_Editor">
      <p style="text-align:center;">{city[0]}{dept[:2]}发〔{year}〕{n % 97 + 1}号</p>
      <p style="text-indent:0;">各县（市、区）{dept}、财政局：</p>
{main}
      <p style="text-align:right;">{city}{dept}</p>
      <p style="text-align:right;">{year}年{m}月{d}日</p>
    </div>
  </div>
  <div class="fjxz" id="fjxz"><p>相关附件：</p><ul><li><a href="./P0{year}{n:06d}.pdf">{topic}工作任务分解表.pdf</a></li></ul></div>
  <div class="related-links"><h4>相关链接</h4>
    <ul>
"""
    tail = f"""    </ul>
  </div>
  <div class="share-box"><span>分享到：</span><a href="javascript:void(0);" class="share-wx">微信</a><a href="javascript:void(0);" class="share-wb">微博</a></div>
  <div class="bottom-tools"><a href="javascript:window.print();">【打印本页】</a><a href="javascript:window.close();">【关闭窗口】</a></div>
</div>
<div class="footer"><div class="w1200">
  <p><a href="/{cpy}/wzdt/">网站地图</a> | <a href="/{cpy}/lxwm/">联系我们</a></p>
  <p>主办单位：{city}{dept}　　网站标识码：{rng.randint(1000000000, 9999999999)}</p>
</div></div>
<script>function doZoom(size){{var z=document.getElementById("zoom");if(!z)return;var ps=z.getElementsByTagName("p");for(var i=0;i<ps.length;i++){{ps[i].style.fontSize=size+"px";}}}}</script>
</body>
</html>
"""

    def link() -> str:
        c, p = rng.choice(CITIES)
        t = rng.choice(TOPICS)
        mm, dd = rng.randint(1, 12), rng.randint(1, 28)
        return (f'<li><a href="/{p}/zcjd/{year}{mm:02d}/t{year}{mm:02d}{dd:02d}_{rng.randint(1000, 9999)}.shtml">'
                f'{c}{t}政策解读</a><span class="date">{year}-{mm:02d}-{dd:02d}</span>'
                f'<p class="summary">{_fill(rng, c, t, year, dd)}</p></li>')

    return _pad(rng, head, tail, target, link, charset, gbk), "\n".join(paras)


def _pad(rng, head: str, tail: str, target: int, item, charset: str | None, gbk: bool) -> str:
    """Add related-list items (boilerplate, not main text) until the encoded page reaches ~target bytes."""
    codec = "gbk" if charset == "gbk" or (charset is None and gbk) else "utf-8"
    size = len(head.encode(codec)) + len(tail.encode(codec))
    items = []
    while size < target:
        it = item() + "\n"
        items.append(it)
        size += len(it.encode(codec))
    return head + "".join(items) + tail


def generate(n_pages: int, seed: int = 20240903, target: int = 30_000) -> list[Page]:
    """Pages 0001..N: half 本地宝, half government TRS; ~21% GBK; 4% without any charset meta."""
    pages = []
    for i in range(1, n_pages + 1):
        rng = random.Random(seed * 100_003 + i)
        gbk = i % 10 in (3, 6)                 # 20% GBK, declared (both families)
        no_meta = i % 50 in (11, 36)           # 4% of pages have no charset meta...
        if i % 100 == 11:
            gbk = True                         # ...3% of all pages GBK, 1% UTF-8
        encoding = "gbk" if gbk else "utf-8"
        charset = None if no_meta else encoding
        page_target = int(target * rng.uniform(0.9, 1.1))
        family = "bendibao" if i % 2 else "gov"
        html, text = (bendibao if family == "bendibao" else gov)(rng, i, charset, page_target, gbk)
        body = html.encode("gbk" if gbk else "utf-8")
        pages.append(Page(path=f"/p/{i:04d}.html", body=body, encoding=encoding, has_meta=charset is not None,
                          family=family, text_sha=hashlib.sha256(text.encode()).hexdigest()))
    if len({p.text_sha for p in pages}) != len(pages):
        raise AssertionError("generated main texts are not all distinct")
    return pages


def write_site(pages: list[Page], root: Path) -> None:
    (root / "p").mkdir(parents=True, exist_ok=True)
    (root / "robots.txt").write_text("User-agent: *\nDisallow: /private/\n")
    for p in pages:
        (root / p.path.lstrip("/")).write_bytes(p.body)
