<?php
/**
 * The block's HTML from a similar answer: the widget's markup, escaping, Arabic, fallbacks.
 *
 * @package RelatedHeadlines
 */

use RelatedHeadlines\Block_Renderer;

const RENDER_NOW = 1580000000; // 2020-01-26T00:53:20Z.

/**
 * An ISO 8601 date so many seconds before RENDER_NOW.
 *
 * @param int $seconds Seconds ago.
 */
function render_ago( $seconds ) {
	return gmdate( 'Y-m-d\TH:i:s\Z', RENDER_NOW - $seconds );
}

/**
 * A similar answer's item, with overrides.
 *
 * @param array $values Overrides.
 */
function render_item( array $values = array() ) {
	return array_merge(
		array(
			'id'           => 'wp-news.example.com-7',
			'headline'     => 'Thousands without power as Storm Ciara batters England',
			'url'          => 'https://news.example.com/2020/02/power/',
			'source'       => 'Northern Post',
			'published_at' => render_ago( 3 * 86400 ),
			'language'     => 'en',
			'relation'     => 'related',
			'score'        => 0.91,
			'relatedness'  => 0.87,
			'why'          => 'related, relatedness 0.87',
		),
		$values
	);
}

/**
 * The headlines (as text) of a block.
 *
 * @param string $html The block.
 */
function render_headlines( $html ) {
	preg_match_all( '#class="sa-link"[^>]*>(.*?)</(?:a|span)>#s', $html, $found );
	return array_map(
		function ( $headline ) {
			return html_entity_decode( $headline, ENT_QUOTES | ENT_HTML5, 'UTF-8' );
		},
		$found[1]
	);
}

function test_block_has_the_widget_markup() {
	$html = Block_Renderer::render( array( 'article' => array( 'id' => 'wp-news.example.com-6', 'language' => 'en' ), 'items' => array( render_item() ) ), array(), RENDER_NOW );
	$expected = '<div class="sa-block" lang="en" dir="ltr" role="region" aria-label="Similar articles" data-sa-state="ready">' . "\n"
		. '<h2 class="sa-title">Similar articles</h2>' . "\n"
		. '<ol class="sa-list">' . "\n"
		. '<li class="sa-item" data-id="wp-news.example.com-7" data-relation="related">' . "\n"
		. '<a class="sa-link" href="https://news.example.com/2020/02/power/" dir="auto" lang="en">Thousands without power as Storm Ciara batters England</a>' . "\n"
		. '<div class="sa-meta"><span class="sa-source" dir="auto">Northern Post</span><time class="sa-date" datetime="' . render_ago( 3 * 86400 ) . '">3 days ago</time></div>' . "\n"
		. '</li>' . "\n"
		. '</ol>' . "\n"
		. '</div>';
	check_same( $expected, $html );
}

function test_hostile_headlines_and_fields_are_text() {
	$html = Block_Renderer::render(
		array(
			'items' => array(
				render_item(
					array(
						'id'       => '"><script>alert(1)</script>',
						'headline' => '<script>alert("x")</script><img src=x onerror=alert(1)>',
						'source'   => '<b>Evil</b> & Co',
						'relation' => 'related" onmouseover="alert(1)',
						'language' => 'en" onclick="alert(1)',
					)
				),
			),
		),
		array( 'title' => '<i>Read</i> "also"' ),
		RENDER_NOW
	);
	check_lacks( '<script', $html );
	check_lacks( '<img', $html );
	check_lacks( '<b>', $html );
	check_lacks( '<i>', $html );
	check_lacks( '" onmouseover', $html );
	check_lacks( '" onclick', $html );
	check_contains( 'dir="auto">&lt;script&gt;', $html ); // A malformed item language is left out.
	check_contains( '&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;', $html );
	check_contains( '<span class="sa-source" dir="auto">&lt;b&gt;Evil&lt;/b&gt; &amp; Co</span>', $html );
	check_contains( 'aria-label="&lt;i&gt;Read&lt;/i&gt; &quot;also&quot;"', $html );
	check_same( array( '<script>alert("x")</script><img src=x onerror=alert(1)>' ), render_headlines( $html ) );
}

function test_only_http_urls_become_links() {
	$refused = array( 'javascript:alert(1)', 'JaVaScRiPt:alert(1)', ' javascript:alert(1)', "java\tscript:alert(1)", 'data:text/html,<script>alert(1)</script>', 'vbscript:msgbox(1)', '//evil.example/x', '/relative/path', '', 'ftp://files.example.com/x' );
	foreach ( $refused as $url ) {
		$html = Block_Renderer::render( array( 'items' => array( render_item( array( 'url' => $url ) ) ) ), array(), RENDER_NOW );
		check_lacks( 'href', $html );
		check_lacks( 'javascript', $html );
		check_contains( '<span class="sa-link" dir="auto" lang="en">Thousands without power', $html );
	}
	$html = Block_Renderer::render( array( 'items' => array( render_item( array( 'url' => 'HTTPS://news.example.com/a?x=1&y="2"' ) ) ) ), array(), RENDER_NOW );
	check_contains( '<a class="sa-link" href="HTTPS://news.example.com/a?x=1&#038;y=2"', $html );
}

function test_arabic_block_is_rtl_with_arabic_heading_and_dates() {
	$answer = array(
		'article' => array( 'id' => 'JA-135', 'language' => 'ar' ),
		'items'   => array(
			render_item(
				array(
					'headline' => 'ألمانيا : القبض على تونسي على علاقة بعمليتي باردو وبن قردان',
					'source'   => 'جوهرة أف أم',
					'language' => 'ar',
				)
			),
			render_item(
				array(
					'id'           => 'JA-136',
					'headline'     => 'حملة أمنية في ولاية ألمانية لتعقّب تونسي',
					'language'     => 'ar',
					'published_at' => render_ago( 11 * 3600 ),
				)
			),
		),
	);
	$html = Block_Renderer::render( $answer, array(), RENDER_NOW );
	check_contains( '<div class="sa-block" lang="ar" dir="rtl" role="region" aria-label="مقالات مشابهة" data-sa-state="ready">', $html );
	check_contains( '<h2 class="sa-title">مقالات مشابهة</h2>', $html );
	check_contains( 'dir="auto" lang="ar">ألمانيا : القبض على تونسي على علاقة بعمليتي باردو وبن قردان</a>', $html );
	check_contains( '<span class="sa-source" dir="auto">جوهرة أف أم</span>', $html );
	check_contains( '>قبل 3 أيام</time>', $html );
	check_contains( '>قبل 11 ساعة</time>', $html );
	check_same( array( 'ألمانيا : القبض على تونسي على علاقة بعمليتي باردو وبن قردان', 'حملة أمنية في ولاية ألمانية لتعقّب تونسي' ), render_headlines( $html ) );
}

function test_block_language_follows_the_widget_rule() {
	$items = array( array( 'language' => 'fr' ), array( 'language' => 'ar' ), array( 'language' => 'ar' ), array() );
	check_same( 'en', Block_Renderer::block_language( 'en', 'ar', $items ), 'asked for' );
	check_same( 'ar-TN', Block_Renderer::block_language( '', 'ar-TN', $items ), 'the article\'s' );
	check_same( 'ar', Block_Renderer::block_language( '', '', $items ), 'the items\' most common' );
	check_same( 'fr', Block_Renderer::block_language( '', '', array( array( 'language' => 'fr' ), array( 'language' => 'en' ) ) ), 'a tie: the first' );
	check_same( 'de-DE', Block_Renderer::block_language( '', '', array(), 'de-DE' ), 'the site\'s' );
	check_same( 'en', Block_Renderer::block_language( '', '', array() ) );
	check_same( 'ar', Block_Renderer::block_language( 'x" onload="1', '', array( array( 'language' => 'ar' ) ) ), 'a hostile tag is ignored' );
}

function test_relative_dates_match_the_widget() {
	$cases = array(
		array( 20, 'en', 'now' ),
		array( 20, 'ar', 'الآن' ),
		array( 60, 'en', '1 minute ago' ),
		array( 5 * 3600, 'en', '5 hours ago' ),
		array( 3 * 86400, 'en', '3 days ago' ),
		array( 3 * 86400, 'ar', 'قبل 3 أيام' ),
		array( 86400, 'ar', 'قبل يوم واحد' ),
		array( 2 * 86400, 'ar-TN', 'قبل يومين' ),
		array( 11 * 3600, 'ar', 'قبل 11 ساعة' ),
		array( 21 * 86400, 'ar', 'قبل 3 أسابيع' ),
		array( 11 * 30 * 86400, 'ar', 'قبل 11 شهرًا' ),
		array( 365 * 9 * 86400, 'ar', 'قبل 9 سنوات' ),
		array( 365 * 11 * 86400, 'ar', 'قبل 11 سنة' ),
		array( -5 * 86400, 'en', 'now' ),
		array( 3 * 86400, 'fr', substr( render_ago( 3 * 86400 ), 0, 10 ) ),
	);
	foreach ( $cases as $case ) {
		check_same( $case[2], Block_Renderer::relative_time( render_ago( $case[0] ), $case[1], RENDER_NOW ), $case[0] . ' s, ' . $case[1] );
	}
	check_same( '', Block_Renderer::relative_time( 'not a date', 'en', RENDER_NOW ) );
	$html = Block_Renderer::render( array( 'items' => array( render_item( array( 'published_at' => 'garbage' ) ) ) ), array(), RENDER_NOW );
	check_contains( '<div class="sa-meta"><span class="sa-source" dir="auto">Northern Post</span></div>', $html );
}

function test_fill_items_are_shown_apart() {
	$answer = array(
		'items' => array(
			render_item(),
			render_item( array( 'id' => 'f1', 'relation' => 'more_from_section', 'section' => 'Weather', 'relatedness' => null ) ),
			render_item( array( 'id' => 'f2', 'relation' => 'latest', 'relatedness' => null ) ),
		),
	);
	$html = Block_Renderer::render( $answer, array(), RENDER_NOW );
	check_contains( '<h2 class="sa-title">Similar articles</h2>', $html );
	check_contains( '<h3 class="sa-subtitle">More from Weather</h3>', $html );
	check_contains( '<h3 class="sa-subtitle">Latest news</h3>', $html );
	check_same( 3, substr_count( $html, '<ol class="sa-list">' ) );
	$only_fill = Block_Renderer::render( array( 'items' => array( $answer['items'][2] ) ), array(), RENDER_NOW );
	check_contains( '<h2 class="sa-title">Latest news</h2>', $only_fill );
}

function test_options_title_and_dark_theme() {
	$html = Block_Renderer::render( array( 'items' => array( render_item() ) ), array( 'title' => 'Read also', 'theme' => 'dark' ), RENDER_NOW );
	check_contains( '<div class="sa-block sa-dark" lang="en" dir="ltr" role="region" aria-label="Read also"', $html );
	check_contains( '<h2 class="sa-title">Read also</h2>', $html );
}

function test_nothing_is_rendered_for_an_error_or_empty_answer() {
	$answers = array(
		null,
		false,
		'',
		'<html>502 Bad Gateway</html>',
		array(),
		array( 'error' => array( 'code' => 'not_found', 'message' => 'no article <script>' ) ),
		array( 'items' => array() ),
		array( 'items' => 'nope' ),
		array( 'items' => array( 'x', 3, null, array( 'headline' => '' ), array( 'headline' => array( 'a' ) ) ) ),
	);
	foreach ( $answers as $answer ) {
		check_same( '', Block_Renderer::render( $answer, array(), RENDER_NOW ), var_export( $answer, true ) );
	}
}

function test_odd_items_among_good_ones_are_skipped() {
	$html = Block_Renderer::render( array( 'items' => array( 'junk', render_item( array( 'url' => null, 'source' => null, 'published_at' => null, 'language' => null ) ) ) ), array(), RENDER_NOW );
	check_same( 1, substr_count( $html, '<li ' ) );
	check_contains( '<span class="sa-link" dir="auto">Thousands without power as Storm Ciara batters England</span>' . "\n" . '<div class="sa-meta"></div>', $html );
}
