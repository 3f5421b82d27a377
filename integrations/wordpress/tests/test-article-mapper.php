<?php
/**
 * A post to an article, the id rule, and which changes push or delete.
 *
 * @package RelatedHeadlines
 */

use RelatedHeadlines\Article_Mapper;

/**
 * A post as Sync::article() reads it, with overrides.
 *
 * @param array $values Overrides.
 */
function mapper_post( array $values = array() ) {
	return array_merge(
		array(
			'ID'         => 42,
			'title'      => 'Storm Ciara floods coastal towns',
			'content'    => '<!-- wp:paragraph --><p>Heavy rain &amp; gale-force winds.</p><!-- /wp:paragraph -->',
			'excerpt'    => '',
			'permalink'  => 'https://news.example.com/2020/02/storm-ciara/',
			'date_gmt'   => '2020-02-09 10:00:00',
			'categories' => array( 'Weather', 'UK' ),
			'tags'       => array( 'storm', 'floods' ),
		),
		$values
	);
}

/**
 * The site's values, with overrides.
 *
 * @param array $values Overrides.
 */
function mapper_site( array $values = array() ) {
	return array_merge(
		array(
			'key'    => 'news.example.com',
			'locale' => 'en_GB',
			'name'   => 'Northern Post',
		),
		$values
	);
}

/**
 * The service's id rule (index/records/article.py valid_id).
 *
 * @param string $id An id.
 */
function mapper_valid_id( $id ) {
	if ( strlen( $id ) < 1 || preg_match_all( '/./su', $id ) > 128 || trim( $id ) !== $id || preg_match( '/[\x00-\x1F\x7F]/', $id ) ) {
		return false;
	}
	$segments = explode( '/', $id );
	foreach ( $segments as $segment ) {
		if ( in_array( $segment, array( '', '.', '..' ), true ) ) {
			return false;
		}
	}
	return 1 === count( $segments ) || ! in_array( end( $segments ), array( 'similar', 'pins', 'duplicates' ), true );
}

function test_maps_a_post_to_an_article() {
	check_same(
		array(
			'id'           => 'wp-news.example.com-42',
			'headline'     => 'Storm Ciara floods coastal towns',
			'body'         => 'Heavy rain & gale-force winds.',
			'url'          => 'https://news.example.com/2020/02/storm-ciara/',
			'published_at' => '2020-02-09T10:00:00Z',
			'language'     => 'en-GB',
			'section'      => 'Weather',
			'source'       => 'Northern Post',
			'tags'         => array( 'storm', 'floods' ),
		),
		Article_Mapper::to_article( mapper_post(), mapper_site() )
	);
}

function test_arabic_post_keeps_its_text() {
	$article = Article_Mapper::to_article(
		mapper_post(
			array(
				'title'      => 'ألمانيا : القبض على تونسي على علاقة بعمليتي باردو وبن قردان',
				'content'    => '<p>ألقت الشرطة الألمانية القبض على تونسي&nbsp;في ولاية هيسن.</p><p>وقالت النيابة العامة</p>',
				'categories' => array( 'أخبار عالمية' ),
				'tags'       => array( 'تونس', 'ألمانيا', 'تونس' ),
			)
		),
		mapper_site(
			array(
				'locale' => 'ar',
				'name'   => 'جوهرة أف أم',
			)
		)
	);
	check_same( 'ألمانيا : القبض على تونسي على علاقة بعمليتي باردو وبن قردان', $article['headline'] );
	check_same( "ألقت الشرطة الألمانية القبض على تونسي في ولاية هيسن.\nوقالت النيابة العامة", $article['body'] );
	check_same( 'ar', $article['language'] );
	check_same( 'أخبار عالمية', $article['section'] );
	check_same( 'جوهرة أف أم', $article['source'] );
	check_same( array( 'تونس', 'ألمانيا' ), $article['tags'], 'tags are distinct' );
}

function test_body_is_text_without_tags_scripts_or_block_comments() {
	$html = "<!-- wp:heading --><h2>Key facts</h2><!-- /wp:heading -->\n<script>alert('x')</script><style>p{color:red}</style>"
		. '<ul><li>One &lt;b&gt;</li><li>Two&#8217;s</li></ul><p>Line<br>break <em>here</em></p><!--more-->';
	check_same( "Key facts\nOne <b>\nTwo’s\nLine\nbreak here", Article_Mapper::to_article( mapper_post( array( 'content' => $html ) ), mapper_site() )['body'] );
}

function test_headline_is_one_line_of_text() {
	$article = Article_Mapper::to_article( mapper_post( array( 'title' => "  <em>Breaking</em>:\n A &amp; B &#8211; 1 < 2  " ) ), mapper_site() );
	check_same( 'Breaking: A & B – 1 < 2', $article['headline'] );
}

function test_post_without_a_visible_title_is_not_an_article() {
	foreach ( array( '', '   ', '&nbsp;', "\u{200B}\u{200F}", '<b></b>' ) as $title ) {
		check_same( null, Article_Mapper::to_article( mapper_post( array( 'title' => $title ) ), mapper_site() ), var_export( $title, true ) );
	}
}

function test_empty_content_falls_back_to_the_excerpt() {
	$article = Article_Mapper::to_article( mapper_post( array( 'content' => '<!-- wp:latest-posts /-->', 'excerpt' => 'The short version.' ) ), mapper_site() );
	check_same( 'The short version.', $article['body'] );
	$article = Article_Mapper::to_article( mapper_post( array( 'content' => '', 'excerpt' => '' ) ), mapper_site() );
	check( ! isset( $article['body'] ), 'no empty body' );
}

function test_fields_without_a_valid_value_are_left_out() {
	$article = Article_Mapper::to_article(
		mapper_post(
			array(
				'permalink'  => 'javascript:alert(1)',
				'date_gmt'   => '0000-00-00 00:00:00',
				'categories' => array(),
				'tags'       => array( '', '  ', '<br>' ),
			)
		),
		mapper_site(
			array(
				'locale' => 'not a locale',
				'name'   => '',
			)
		)
	);
	check_same( array( 'id', 'headline', 'body' ), array_keys( $article ) );
}

function test_locales_become_language_tags() {
	$cases = array(
		'ar'             => 'ar',
		'en_US'          => 'en-US',
		'fr_FR'          => 'fr-FR',
		'de_DE_formal'   => 'de-DE-formal',
		'pt_PT_ao90'     => 'pt-PT-ao90',
		'ary'            => 'ary',
		''               => null,
		'EN'             => null,
		'en_US"><script' => null,
	);
	foreach ( $cases as $locale => $tag ) {
		check_same( $tag, Article_Mapper::language( $locale ), (string) $locale );
	}
}

function test_dates_are_utc_iso_8601() {
	check_same( '2024-05-01T08:30:00Z', Article_Mapper::utc_timestamp( '2024-05-01 08:30:00' ) );
	check_same( null, Article_Mapper::utc_timestamp( '0000-00-00 00:00:00' ) );
	check_same( null, Article_Mapper::utc_timestamp( '2024-02-30 08:30:00' ) );
	check_same( null, Article_Mapper::utc_timestamp( 'yesterday' ) );
}

function test_long_values_are_cut_to_the_api_limits() {
	$article = Article_Mapper::to_article(
		mapper_post(
			array(
				'title'   => str_repeat( 'ع', 1500 ),
				'content' => str_repeat( 'كلمة ', 50000 ),
				'tags'    => array_map(
					function ( $i ) {
						return 'tag ' . $i . str_repeat( 'x', 200 );
					},
					range( 1, 150 )
				),
			)
		),
		mapper_site( array( 'name' => str_repeat( 'ن', 300 ) ) )
	);
	check_same( 1000, preg_match_all( '/./su', $article['headline'] ) );
	check_same( 200000, preg_match_all( '/./su', $article['body'] ) );
	check( 1 === preg_match( '//u', $article['body'] ), 'still valid UTF-8' );
	check_same( 200, preg_match_all( '/./su', $article['source'] ) );
	check_same( 100, count( $article['tags'] ) );
	check_same( 100, strlen( $article['tags'][0] ) );
}

function test_invalid_utf8_is_replaced_not_dropped() {
	$article = Article_Mapper::to_article( mapper_post( array( 'title' => "Caf\xE9 news" ) ), mapper_site() );
	check_same( "Caf\u{FFFD} news", $article['headline'] );
}

function test_article_id_is_the_site_and_the_post_id() {
	check_same( 'wp-news.example.com-42', Article_Mapper::article_id( 'news.example.com', 42 ) );
	check_same( 'example.com', Article_Mapper::site_key( 'https://Example.COM' ) );
	check_same( 'example.com', Article_Mapper::site_key( 'https://example.com/' ) );
	check_same( 'example.com:8080~news~ar', Article_Mapper::site_key( 'http://example.com:8080/news/ar/' ) );
	check_same( 'localhost', Article_Mapper::site_key( '' ) );
	check_same( 'wp-example.com~news-7', Article_Mapper::article_id( Article_Mapper::site_key( 'https://example.com/news' ), 7 ) );
	check_same( 'wp-a~b-7', Article_Mapper::article_id( 'a/b', 7 ), 'never a slash' );
}

function test_article_ids_are_valid_ids_of_the_service() {
	$long = Article_Mapper::site_key( 'https://' . str_repeat( 'sub.', 40 ) . 'example.com/' . str_repeat( 'folder/', 20 ) );
	foreach ( array( 'example.com', 'xn--mgbh0fb.example', 'example.com:8080~news', $long, "bad\x01key" ) as $key ) {
		$id = Article_Mapper::article_id( $key, 123456789 );
		check( mapper_valid_id( $id ), 'valid id: ' . $id );
		check_same( '-123456789', substr( $id, -10 ) );
	}
	check( Article_Mapper::article_id( $long, 1 ) === Article_Mapper::article_id( $long, 1 ), 'stable' );
	check( Article_Mapper::article_id( $long . 'x', 1 ) !== Article_Mapper::article_id( $long, 1 ), 'a long key keeps its hash' );
}

function test_what_a_change_does() {
	$cases = array(
		// status, previous, viewable, protected, revision => action.
		array( 'publish', 'draft', true, false, false, 'push' ),
		array( 'publish', 'publish', true, false, false, 'push' ),     // An update.
		array( 'publish', 'future', true, false, false, 'push' ),      // A scheduled post goes live.
		array( 'trash', 'publish', true, false, false, 'delete' ),
		array( 'draft', 'publish', true, false, false, 'delete' ),     // Unpublished.
		array( 'private', 'publish', true, false, false, 'delete' ),
		array( 'publish', 'publish', true, true, false, 'delete' ),    // Now password-protected.
		array( 'draft', 'draft', true, false, false, 'skip' ),
		array( 'trash', 'draft', true, false, false, 'skip' ),
		array( 'publish', 'draft', false, false, false, 'skip' ),      // Not a public post type.
		array( 'inherit', 'new', true, false, true, 'skip' ),          // A revision.
	);
	foreach ( $cases as $case ) {
		check_same( $case[5], Article_Mapper::action( $case[0], $case[1], $case[2], $case[3], $case[4] ), implode( ' ', array_map( 'var_export', array_slice( $case, 0, 5 ), array_fill( 0, 5, true ) ) ) );
	}
}
